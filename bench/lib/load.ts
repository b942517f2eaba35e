/**
 * Load generator for bench/token-endpoint.bench.ts, run as a child process (forked with
 * IPC) so it does not share the hub's event loop. For one run it:
 *   1. makes one device key per client and logs each in (custom-auth grant), so every
 *      client has its own session;
 *   2. creates every DPoP proof the run may use before the clock starts (timed
 *      separately: that is what a client spends, not the hub);
 *   3. has each client send refresh_token grants one after another over its own
 *      keep-alive connection, first for a warm-up, then for the measured duration,
 *      each phase ending early if its proofs run out (the bound on requests).
 */
import { Agent, request } from "node:http";
import { createDpopProof, generateDpopKeyPair, jwkThumbprint } from "@meshauth/core";

export interface RunRequest {
  type: "run";
  url: string;
  app: { id: string; clientSecret: string };
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Most requests in the warm-up and in the measured phase (over all clients). */
  maxWarmup: number;
  maxRequests: number;
}

export interface RunResult {
  type: "result";
  concurrency: number;
  requests: number;
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
  /** Latencies of the measured requests, milliseconds, sorted. */
  p50: number;
  p99: number;
  /** Proofs the generator created per second before the run (one process, sequential awaits). */
  proofCreatePerSec: number;
  /** Whether the measured phase ended because the proofs ran out rather than at the deadline. */
  exhausted: boolean;
}

interface Client {
  agent: Agent;
  refreshToken: string;
  proofs: string[];
}

function postForm(
  url: URL,
  agent: Agent,
  form: Record<string, string>,
  dpop?: string,
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
          ...(dpop === undefined ? {} : { dpop }),
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

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function run(r: RunRequest): Promise<RunResult> {
  const tokenUrl = new URL(`${r.url}/token`);
  const perClient = Math.ceil(r.maxRequests / r.concurrency);
  const warmPerClient = Math.ceil(r.maxWarmup / r.concurrency);
  const clients: Client[] = [];
  let created = 0;
  let createMs = 0;
  for (let i = 0; i < r.concurrency; i++) {
    const keys = await generateDpopKeyPair();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const login = await postForm(tokenUrl, agent, {
      grant_type: "client_credentials",
      client_id: r.app.id,
      client_secret: r.app.clientSecret,
      sub: `bench-${r.concurrency}-${i}`,
      dpop_jkt: await jwkThumbprint(keys.publicKey),
    });
    if (login.status !== 200) throw new Error(`login failed: ${JSON.stringify(login.body)}`);
    const started = performance.now();
    const proofs: string[] = [];
    for (let n = 0; n < perClient + warmPerClient; n++) {
      proofs.push(
        await createDpopProof({
          privateKey: keys.privateKey,
          publicKey: keys.publicKey,
          htm: "POST",
          htu: tokenUrl.href,
        }),
      );
    }
    createMs += performance.now() - started;
    created += proofs.length;
    clients.push({ agent, refreshToken: String(login.body.refresh_token), proofs });
  }

  const latencies: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let exhausted = false;
  async function loop(c: Client, deadline: number, budget: number, measure: boolean): Promise<void> {
    let n = 0;
    for (; n < budget && performance.now() < deadline; n++) {
      const proof = c.proofs.pop();
      if (proof === undefined) {
        if (measure) exhausted = true;
        return;
      }
      const t0 = performance.now();
      const res = await postForm(
        tokenUrl,
        c.agent,
        { grant_type: "refresh_token", client_id: r.app.id, refresh_token: c.refreshToken },
        proof,
      );
      const t1 = performance.now();
      if (res.status === 200) {
        c.refreshToken = String(res.body.refresh_token);
        if (measure) latencies.push(t1 - t0);
      } else {
        // A failed refresh leaves the client without a usable session: it stops.
        errors++;
        if (errorSamples.length < 5) errorSamples.push(`${res.status} ${JSON.stringify(res.body)}`);
        return;
      }
    }
    if (measure && n >= budget) exhausted = true;
  }

  const warmDeadline = performance.now() + r.warmupMs;
  await Promise.all(clients.map((c) => loop(c, warmDeadline, warmPerClient, false)));
  const start = performance.now();
  const deadline = start + r.durationMs;
  await Promise.all(clients.map((c) => loop(c, deadline, perClient, true)));
  const elapsedMs = performance.now() - start;
  for (const c of clients) c.agent.destroy();
  latencies.sort((x, y) => x - y);
  return {
    type: "result",
    concurrency: r.concurrency,
    requests: latencies.length,
    errors,
    errorSamples,
    elapsedMs,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    proofCreatePerSec: created / (createMs / 1000),
    exhausted,
  };
}

process.on("message", (msg: RunRequest | { type: "exit" }) => {
  if (msg.type === "exit") {
    process.disconnect();
    return;
  }
  run(msg).then(
    (result) => process.send?.(result),
    (e: unknown) => process.send?.({ type: "error", message: String((e as Error).stack ?? e) }),
  );
});
