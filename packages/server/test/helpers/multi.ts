import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createDpopProof } from "@meshauth/core";
import type { TestDevice } from "./client.js";

/** The repository root, where `node --import tsx packages/server/src/cli.ts` resolves. */
export const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));

/** A hub running as its own `meshauth start` process. */
export interface HubProcess {
  /** Base URL the process listens on (http://127.0.0.1:PORT). */
  url: string;
  /** The issuer it was started with; DPoP proofs it accepts name `${issuer}/token`. */
  issuer: string;
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr), for failure messages. */
  output(): string;
  /** SIGTERM, then waits for the exit; SIGKILL if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();
// A failing test must not leave hub processes behind.
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface SpawnHubOptions {
  port: number;
  /** Defaults to the URL the process listens on. */
  issuer?: string;
  dataDir: string;
  databaseUrl: string;
  env?: Record<string, string>;
  /** How long to wait for the startup banner before giving up; default 60 s. */
  startTimeoutMs?: number;
}

/**
 * Starts `node --conditions=development --import tsx packages/server/src/cli.ts start`
 * and resolves once it printed its banner (it is listening then).
 */
export function spawnHub(opts: SpawnHubOptions): Promise<HubProcess> {
  const url = `http://127.0.0.1:${opts.port}`;
  const issuer = opts.issuer ?? url;
  const child = spawn(
    process.execPath,
    ["--conditions=development", "--import", "tsx", "packages/server/src/cli.ts", "start"],
    {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        NODE_ENV: "test",
        DATABASE_URL: opts.databaseUrl,
        MESHAUTH_DATA_DIR: opts.dataDir,
        PORT: String(opts.port),
        HOST: "127.0.0.1",
        MESHAUTH_ISSUER: issuer,
        MESHAUTH_DEMO_APP: "false",
        LOG_LEVEL: "warn",
        ...opts.env,
      },
    },
  );
  running.add(child);
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (s: string) => {
    out += s;
  });
  child.stderr?.setEncoding("utf8").on("data", (s: string) => {
    out += s;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });

  const hub: HubProcess = {
    url,
    issuer,
    child,
    output: () => out,
    async stop(graceMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };

  const banner = `meshauth hub ${issuer} (listening on`;
  return new Promise<HubProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanupListeners();
      child.kill("SIGKILL");
      reject(new Error(`hub on port ${opts.port} printed no banner in time; output:\n${out}`));
    }, opts.startTimeoutMs ?? 60_000);
    const onData = () => {
      if (!out.includes(banner)) return;
      cleanupListeners();
      resolve(hub);
    };
    const onExit = (code: number | null) => {
      cleanupListeners();
      reject(new Error(`hub on port ${opts.port} exited (code ${code}) before listening; output:\n${out}`));
    };
    function cleanupListeners() {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.off("exit", onExit);
    }
    // Registered after the collector above, so `out` already holds the chunk.
    child.stdout?.on("data", onData);
    child.once("exit", onExit);
  });
}

export interface FormResponse {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** POSTs a form with exactly the DPoP header given (no retry, no nonce handling). */
export async function sendForm(
  baseUrl: string,
  path: string,
  form: Record<string, string>,
  dpop?: string,
  headers: Record<string, string> = {},
): Promise<FormResponse> {
  const res = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(dpop === undefined ? {} : { dpop }),
      ...headers,
    },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** A fresh DPoP proof from `device` for POST `htu`, optionally carrying a server nonce. */
export function proofFor(device: TestDevice, htu: string, nonce?: string): Promise<string> {
  return createDpopProof({
    privateKey: device.keys.privateKey,
    publicKey: device.keys.publicKey,
    htm: "POST",
    htu,
    ...(nonce === undefined ? {} : { nonce }),
  });
}

/** The payload of a JWT, unverified (to read claims such as `iss` in tests). */
export function jwtPayload(token: string): Record<string, unknown> {
  const part = token.split(".")[1];
  if (part === undefined) throw new Error("not a JWT");
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
}
