/**
 * Load generator for bench/compare.bench.ts, a child process (forked with IPC) so the
 * clients share neither the servers' event loops nor their CPU accounting. Messages:
 *   - `setup`: C clients for one setting (server, grant); each has its own P-256 key and
 *     keep-alive socket and, for refresh, its own session: meshauth's custom-auth login,
 *     or for oidc-provider the authorization code flow with PKCE driven over HTTP;
 *   - `prepare`: the DPoP proofs for the next round, made before the clock starts;
 *   - `go`: every client sends its grant back to back until the time is up or its proofs
 *     run out; the answer has the counts, latencies and error samples.
 */
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, randomUUID, sign } from "node:crypto";
import { Agent, request } from "node:http";
import type { Target } from "./compare-server.js";

export type Grant = "client_credentials" | "refresh_token";

export interface SetupMessage {
  type: "setup";
  id: string;
  target: Target;
  grant: Grant;
  concurrency: number;
}
export interface PrepareMessage {
  type: "prepare";
  id: string;
  perClient: number;
}
export interface GoMessage {
  type: "go";
  id: string;
  durationMs: number;
}
export interface RoundResult {
  type: "result";
  requests: number;
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
  p50: number;
  p99: number;
  exhausted: boolean;
}

interface Client {
  key: KeyObject;
  /** The public JWK, members in RFC 7638 order, as JSON. */
  jwkJson: string;
  jkt: string;
  agent: Agent;
  refreshToken: string;
  proofs: string[];
}

interface Setting {
  target: Target;
  grant: Grant;
  tokenUrl: URL;
  clients: Client[];
}

const settings = new Map<string, Setting>();

function newKey(): Pick<Client, "key" | "jwkJson" | "jkt"> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  const jwkJson = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return { key: privateKey, jwkJson, jkt: createHash("sha256").update(jwkJson).digest("base64url") };
}

/** An RFC 9449 proof (what createDpopProof makes), with node:crypto so a round is quick to prepare. */
function proof(c: Pick<Client, "key" | "jwkJson">, htu: string): string {
  const header = Buffer.from(`{"typ":"dpop+jwt","alg":"ES256","jwk":${c.jwkJson}}`).toString("base64url");
  const payload = Buffer.from(
    JSON.stringify({ jti: randomUUID(), htm: "POST", htu, iat: Math.floor(Date.now() / 1000) }),
  ).toString("base64url");
  const input = `${header}.${payload}`;
  const sig = sign("sha256", Buffer.from(input), { key: c.key, dsaEncoding: "ieee-p1363" });
  return `${input}.${sig.toString("base64url")}`;
}

function postForm(
  url: URL,
  agent: Agent,
  form: Record<string, string>,
  dpop: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "content-length": Buffer.byteLength(body),
          dpop,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>,
            });
          } catch (e) {
            reject(e);
          }
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A cookie jar for one browser-less user agent (name=value only; one host). */
class Cookies {
  readonly #jar = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair?.indexOf("=") ?? -1;
      if (pair && eq > 0) this.#jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }
  header(): string {
    return [...this.#jar].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

/**
 * oidc-provider's authorization code flow (RFC 6749 §4.1 with PKCE and `dpop_jkt`), as a
 * user agent follows it: /auth, the interaction (login and consent, answered by the
 * server's handler), back to /auth, the redirect with the code; then the code is
 * exchanged at /token with a DPoP proof, which binds the refresh token to the key.
 */
async function oidcLogin(target: Target, c: Client, user: string, tokenUrl: URL): Promise<string> {
  const verifier = randomBytes(32).toString("base64url");
  const redirectUri = "http://127.0.0.1/callback";
  const auth = new URL(`${target.url}/auth`);
  auth.search = new URLSearchParams({
    client_id: target.publicClientId,
    response_type: "code",
    redirect_uri: redirectUri,
    scope: "offline_access api",
    prompt: "consent",
    state: randomUUID(),
    login_hint: user,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    dpop_jkt: c.jkt,
  }).toString();
  const cookies = new Cookies();
  let next = auth.href;
  let code: string | null = null;
  for (let hop = 0; hop < 10 && code === null; hop++) {
    const res = await fetch(next, { redirect: "manual", headers: { cookie: cookies.header() } });
    cookies.take(res);
    const location = res.headers.get("location");
    if (res.status < 300 || res.status >= 400 || !location)
      throw new Error(`authorization flow stopped at ${next}: ${res.status} ${await res.text()}`);
    const to = new URL(location, next);
    if (to.href.startsWith(redirectUri)) {
      code = to.searchParams.get("code");
      if (!code) throw new Error(`no code: ${to.href}`);
    }
    next = to.href;
  }
  if (code === null) throw new Error("the authorization flow did not end at the redirect URI");
  const token = await postForm(
    tokenUrl,
    c.agent,
    {
      grant_type: "authorization_code",
      client_id: target.publicClientId,
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    },
    proof(c, tokenUrl.href),
  );
  if (token.status !== 200 || typeof token.body.refresh_token !== "string")
    throw new Error(`code exchange failed: ${token.status} ${JSON.stringify(token.body)}`);
  return token.body.refresh_token;
}

/** meshauth's custom-auth login: the app's backend vouches for the user and names the device key. */
async function meshauthLogin(target: Target, c: Client, user: string, tokenUrl: URL): Promise<string> {
  const body = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: target.clientId,
    client_secret: target.clientSecret,
    sub: user,
    dpop_jkt: c.jkt,
  });
  const res = await fetch(tokenUrl, { method: "POST", body });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status !== 200 || typeof json.refresh_token !== "string")
    throw new Error(`login failed: ${res.status} ${JSON.stringify(json)}`);
  return json.refresh_token;
}

async function setup(m: SetupMessage): Promise<void> {
  const tokenUrl = new URL(`${m.target.url}/token`);
  const clients: Client[] = [];
  for (let i = 0; i < m.concurrency; i++) {
    const c: Client = {
      ...newKey(),
      agent: new Agent({ keepAlive: true, maxSockets: 1 }),
      refreshToken: "",
      proofs: [],
    };
    if (m.grant === "refresh_token") {
      const user = `${m.id}-user-${i}`;
      c.refreshToken =
        m.target.kind === "meshauth"
          ? await meshauthLogin(m.target, c, user, tokenUrl)
          : await oidcLogin(m.target, c, user, tokenUrl);
    }
    clients.push(c);
  }
  settings.set(m.id, { target: m.target, grant: m.grant, tokenUrl, clients });
}

function prepare(m: PrepareMessage): void {
  const s = settings.get(m.id);
  if (!s) throw new Error(`no setting ${m.id}`);
  for (const c of s.clients) {
    c.proofs = [];
    for (let n = 0; n < m.perClient; n++) c.proofs.push(proof(c, s.tokenUrl.href));
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function go(m: GoMessage): Promise<RoundResult> {
  const found = settings.get(m.id);
  if (!found) throw new Error(`no setting ${m.id}`);
  const s = found;
  const { target, tokenUrl } = s;
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let exhausted = false;
  const form = (c: Client): Record<string, string> =>
    s.grant === "refresh_token"
      ? { grant_type: "refresh_token", client_id: target.publicClientId, refresh_token: c.refreshToken }
      : { grant_type: "client_credentials", client_id: target.clientId, client_secret: target.clientSecret };
  const start = performance.now();
  const deadline = start + m.durationMs;
  async function loop(c: Client): Promise<void> {
    while (performance.now() < deadline) {
      const dpop = c.proofs.pop();
      if (dpop === undefined) {
        exhausted = true;
        return;
      }
      const t0 = performance.now();
      const res = await postForm(tokenUrl, c.agent, form(c), dpop).catch((e: Error) => ({
        status: 0,
        body: { error: e.message } as Record<string, unknown>,
      }));
      const t1 = performance.now();
      if (res.status === 200 && typeof res.body.access_token === "string") {
        if (s.grant === "refresh_token") c.refreshToken = String(res.body.refresh_token);
        latencies.push(t1 - t0);
      } else {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(`${res.status} ${JSON.stringify(res.body)}`);
        // A failed refresh leaves the client without a usable token: it stops.
        if (s.grant === "refresh_token") return;
      }
    }
  }
  await Promise.all(s.clients.map(loop));
  const elapsedMs = performance.now() - start;
  latencies.sort((x, y) => x - y);
  return {
    type: "result",
    requests: latencies.length,
    errors,
    errorSamples,
    elapsedMs,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    exhausted,
  };
}

process.on("disconnect", () => process.exit(0));
process.on("message", (m: SetupMessage | PrepareMessage | GoMessage | { type: "exit" }) => {
  const reply = (p: Promise<unknown>) =>
    p.then(
      (value) => process.send?.(value ?? { type: "ok" }),
      (e: unknown) => process.send?.({ type: "error", message: String((e as Error).stack ?? e) }),
    );
  if (m.type === "setup") reply(setup(m));
  else if (m.type === "prepare") reply(Promise.resolve().then(() => prepare(m)));
  else if (m.type === "go") reply(go(m));
  else {
    for (const s of settings.values()) for (const c of s.clients) c.agent.destroy();
    process.disconnect();
  }
});
