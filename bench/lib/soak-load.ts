/**
 * Load generator for bench/soak.ts, forked with IPC so it does not share the hub's event
 * loop. Each client has its own device key, session and keep-alive connection, and
 * sends refresh_token grants with a fresh DPoP proof each:
 *   - "closed": back to back, for the throughput measurement;
 *   - "open": at a fixed total rate spread over the clients (a client that falls
 *     behind sends at once and the lag is counted).
 * Progress is reported every second; a failed refresh keeps the client's token (as a
 * device would) and is counted by status.
 */
import { Agent, request } from "node:http";
import { createDpopProof, generateDpopKeyPair, jwkThumbprint } from "@meshauth/core";

export interface SoakRun {
  type: "run";
  url: string;
  app: { id: string; clientSecret: string };
  clients: number;
  mode: "closed" | "open";
  /** Requests per second over all clients (open mode). */
  rate: number;
  durationMs: number;
}

export interface SoakProgress {
  type: "progress" | "result";
  elapsedMs: number;
  ok: number;
  /** Answers by status code other than 200, plus "network" for no answer. */
  failures: Record<string, number>;
  samples: string[];
  /** Open mode: sends that left later than their slot by more than 100 ms. */
  late: number;
}

function post(
  url: URL,
  agent: Agent,
  form: Record<string, string>,
  dpop?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        timeout: 15_000,
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
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
          } catch {
            // counted by status
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on("error", () => resolve({ status: 0, body: {} }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ status: 0, body: { error: e.message } }));
    req.end(body);
  });
}

async function run(r: SoakRun): Promise<void> {
  const tokenUrl = new URL(`${r.url}/token`);
  const clients: { agent: Agent; keys: CryptoKeyPair; refreshToken: string }[] = [];
  for (let i = 0; i < r.clients; i++) {
    const keys = await generateDpopKeyPair();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const login = await post(tokenUrl, agent, {
      grant_type: "client_credentials",
      client_id: r.app.id,
      client_secret: r.app.clientSecret,
      sub: `soak-${r.mode}-${i}`,
      dpop_jkt: await jwkThumbprint(keys.publicKey),
    });
    if (login.status !== 200) throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
    clients.push({ agent, keys, refreshToken: String(login.body.refresh_token) });
  }

  const state: SoakProgress = { type: "progress", elapsedMs: 0, ok: 0, failures: {}, samples: [], late: 0 };
  const start = performance.now();
  const deadline = start + r.durationMs;
  const report = setInterval(() => {
    process.send?.({ ...state, elapsedMs: performance.now() - start });
  }, 1000);

  const interval = r.mode === "open" ? (1000 * r.clients) / r.rate : 0;
  await Promise.all(
    clients.map(async (c, i) => {
      // Spread the clients' slots over one interval.
      let next = start + (interval * i) / r.clients;
      while (performance.now() < deadline) {
        if (r.mode === "open") {
          const wait = next - performance.now();
          if (wait > 0) await new Promise((res) => setTimeout(res, wait));
          else if (wait < -100) state.late++;
          next = Math.max(next + interval, performance.now() - 100);
          if (performance.now() >= deadline) break;
        }
        const proof = await createDpopProof({
          privateKey: c.keys.privateKey,
          publicKey: c.keys.publicKey,
          htm: "POST",
          htu: tokenUrl.href,
        });
        const res = await post(
          tokenUrl,
          c.agent,
          { grant_type: "refresh_token", client_id: r.app.id, refresh_token: c.refreshToken },
          proof,
        );
        if (res.status === 200) {
          state.ok++;
          c.refreshToken = String(res.body.refresh_token);
        } else {
          const key = res.status === 0 ? "network" : String(res.status);
          state.failures[key] = (state.failures[key] ?? 0) + 1;
          if (state.samples.length < 5) state.samples.push(`${res.status} ${JSON.stringify(res.body)}`);
        }
      }
    }),
  );
  clearInterval(report);
  for (const c of clients) c.agent.destroy();
  process.send?.({ ...state, type: "result", elapsedMs: performance.now() - start });
}

process.on("message", (msg: SoakRun | { type: "exit" }) => {
  if (msg.type === "exit") {
    process.disconnect();
    return;
  }
  run(msg).catch((e: unknown) => process.send?.({ type: "error", message: String((e as Error).stack ?? e) }));
});
