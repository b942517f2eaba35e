/**
 * Hub processes and refreshing clients for the fault scripts (bench/faults.ts) and the crash tests: `meshauth start`
 * processes from the sources (packages/server/test/helpers/multi.ts), an app with the
 * custom-auth provider made through the admin API, and devices that log in and rotate
 * their refresh tokens, remembering every token they were given.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { newDevice, type TestDevice } from "./client.js";
import { type HubProcess, proofFor, spawnHub } from "./multi.js";

export { freePort } from "./hub.js";
export type { HubProcess };

/** Longest a request may take before the scripts count it as hung. */
export const REQUEST_BOUND_MS = 15_000;

export interface Answer {
  status: number;
  error?: string;
  body: Record<string, unknown>;
  ms: number;
}

/** One POST of a form; a network failure or a timeout is status 0 with the reason. */
export async function postForm(
  url: string,
  form: Record<string, string>,
  dpop?: string,
  boundMs = REQUEST_BOUND_MS,
): Promise<Answer> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(dpop === undefined ? {} : { dpop }),
      },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(boundMs),
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { raw: text.slice(0, 200) };
    }
    const error = typeof body.error === "string" ? body.error : undefined;
    return { status: res.status, ...(error ? { error } : {}), body, ms: performance.now() - t0 };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const reason = err.name === "TimeoutError" ? "timeout" : (err.cause?.code ?? err.message);
    return { status: 0, error: reason, body: {}, ms: performance.now() - t0 };
  }
}

export async function getStatus(url: string, boundMs = REQUEST_BOUND_MS): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(boundMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

export interface App {
  id: string;
  secret: string;
  adminToken: string;
}

/** Creates an app with the custom-auth provider and a client secret at `hub`. */
export async function createApp(hub: HubProcess, dataDir: string, name = "faults"): Promise<App> {
  const adminToken = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  const headers = { authorization: `Bearer ${adminToken}`, "content-type": "application/json" };
  const created = await fetch(`${hub.url}/admin/apps`, {
    method: "POST",
    headers,
    body: JSON.stringify({ name, providers: ["client"] }),
  });
  if (created.status !== 201) throw new Error(`cannot create app: ${await created.text()}`);
  const { app } = (await created.json()) as { app: { id: string } };
  const secret = await fetch(`${hub.url}/admin/apps/${app.id}/secrets`, {
    method: "POST",
    headers,
    body: "{}",
  });
  if (secret.status !== 201) throw new Error(`cannot create secret: ${await secret.text()}`);
  return { id: app.id, secret: ((await secret.json()) as { clientSecret: string }).clientSecret, adminToken };
}

/** Every refresh token and access-token `jti` handed out in a run, to find duplicates. */
export class Ledger {
  readonly #refresh = new Set<string>();
  readonly #jti = new Set<string>();
  duplicated = 0;

  record(body: Record<string, unknown>): void {
    const refresh = String(body.refresh_token);
    if (this.#refresh.has(refresh)) this.duplicated++;
    this.#refresh.add(refresh);
    const part = String(body.access_token).split(".")[1] ?? "";
    const jti = String((JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as { jti?: string }).jti);
    if (this.#jti.has(jti)) this.duplicated++;
    this.#jti.add(jti);
  }

  get issued(): number {
    return this.#refresh.size;
  }
}

/** A device with one session: it refreshes with the last refresh token it saw succeed. */
export class RefreshClient {
  device!: TestDevice;
  refreshToken = "";
  ok = 0;
  /** Answers by status ("200", "503 unavailable", "0 ECONNRESET", ...). */
  readonly outcomes = new Map<string, number>();
  maxMs = 0;

  constructor(
    readonly app: App,
    readonly sub: string,
    readonly ledger: Ledger,
  ) {}

  async login(hub: HubProcess): Promise<void> {
    this.device = await newDevice();
    const res = await postForm(`${hub.url}/token`, {
      grant_type: "client_credentials",
      client_id: this.app.id,
      client_secret: this.app.secret,
      sub: this.sub,
      dpop_jkt: this.device.jkt,
    });
    if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
    this.ledger.record(res.body);
    this.refreshToken = String(res.body.refresh_token);
  }

  /** One refresh at `hub`; on 200 the new token replaces the old one. */
  async refresh(hub: HubProcess, boundMs = REQUEST_BOUND_MS): Promise<Answer> {
    const proof = await proofFor(this.device, `${hub.issuer}/token`);
    const res = await postForm(
      `${hub.url}/token`,
      { grant_type: "refresh_token", client_id: this.app.id, refresh_token: this.refreshToken },
      proof,
      boundMs,
    );
    const key = res.status === 200 ? "200" : `${res.status} ${res.error ?? ""}`.trim();
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
    this.maxMs = Math.max(this.maxMs, res.ms);
    if (res.status === 200) {
      this.ok++;
      this.ledger.record(res.body);
      this.refreshToken = String(res.body.refresh_token);
    }
    return res;
  }
}

export interface StartOptions {
  port: number;
  dataDir: string;
  databaseUrl: string;
  issuer?: string;
  env?: Record<string, string>;
}

export function startHub(opts: StartOptions): Promise<HubProcess> {
  return spawnHub({ ...opts, startTimeoutMs: 120_000 });
}

/** Adds `b`'s counts into `a`. */
export function merge(a: Map<string, number>, b: Map<string, number>): Map<string, number> {
  for (const [k, v] of b) a.set(k, (a.get(k) ?? 0) + v);
  return a;
}

export function describeOutcomes(m: Map<string, number>): string {
  return [...m.entries()]
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ");
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
