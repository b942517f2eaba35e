/**
 * What the SDK adds to a request to the app's own API, against a plain `fetch` of the
 * same local endpoint measured in the same run; and a forced session refresh
 * (refresh-token grant with DPoP against a hub in this process).
 *
 *   npm run bench -- client
 *
 * Rows: plain fetch (no auth) is the baseline; `client.fetch` to the same endpoint
 * adds a DPoP proof (one P-256 signature by a non-extractable key, `ath` hash) and the
 * Authorization header; the verifying API also checks the JWT against the hub's JWKS
 * and the proof (nonce, replay), as a real API would. Client and servers share this
 * process and its 2 cores, so absolute numbers are low; the ratios are the point.
 */
import { createServer } from "node:http";
import { createClient, memoryStore } from "@meshauth/client/node";
import { startResourceServer } from "../packages/client/test/helpers/resource-server.js";
import { startBenchHub } from "./lib/hub.js";
import { measure, print } from "./lib/rounds.js";

const bench = await startBenchHub({ kind: "sqlite" });
const api = await startResourceServer(bench.url, bench.app.id);
const plain = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end('{"ok":true}');
});
await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r));
const plainUrl = `http://127.0.0.1:${(plain.address() as { port: number }).port}/notes`;

const client = createClient({
  hub: bench.url,
  appId: bench.app.id,
  store: memoryStore(),
  customLoginGui: true,
  async fetchTokens({ jkt }) {
    // The app backend's custom-auth grant, as in docs/oauth.md.
    const res = await fetch(`${bench.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: bench.app.id,
        client_secret: bench.app.clientSecret,
        sub: "bench-user",
        dpop_jkt: jkt,
      }),
    });
    return res.json();
  },
});
await client.login();

const drain = async (r: Response) => {
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  await r.arrayBuffer();
};
const medians = await measure([
  { name: "plain fetch, no auth (baseline)", op: async () => drain(await fetch(plainUrl)) },
  { name: "client.fetch, same endpoint", op: async () => drain(await client.fetch(plainUrl)) },
  {
    name: "client.fetch, API verifies token + proof",
    op: async () => drain(await client.fetch(`${api.url}/notes`)),
  },
  { name: "client.createProof only", op: async () => void (await client.createProof("GET", plainUrl)) },
  { name: "client.refresh() (hub round trip)", op: async () => void (await client.refresh()) },
]);
const base = medians.get("plain fetch, no auth (baseline)") ?? 1;
print(
  "SDK cost per request (sequential, one client)",
  [...medians].map(([name, ops]) => [name, ops, `${(ops / base).toFixed(2)}x`]),
);

await client.close();
await api.close();
await new Promise((r) => plain.close(r));
await bench.close();
