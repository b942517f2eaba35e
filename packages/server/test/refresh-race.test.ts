/**
 * Ten refreshes with one refresh token from one device at once, each with its own proof.
 *
 * What the hub does (src/auth/tokens.ts, TokenService.refresh): every request first reads
 * the token. One request wins the atomic "mark used where not yet used" update and gets
 * new tokens. A request that read the token before that update and then loses it gets
 * `invalid_grant` and changes nothing. A request that reads the token after the winner
 * marked it used takes it for a stolen copy being replayed: it revokes the session and
 * gets `session_revoked`. So the winner's new refresh token works only if no request
 * came late enough to trigger reuse detection; which happens depends on timing.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Hub } from "../src/hub.js";
import { type HubResponse, newDevice, post } from "./helpers/client.js";
import { cleanup, engines } from "./helpers/engines.js";
import { createApp, startTestHub } from "./helpers/hub.js";

after(cleanup);

const CONCURRENT = 10;
const ROUNDS = 5;

for (const engine of engines()) {
  describe(`concurrent refreshes with one token on ${engine.name}`, () => {
    let hub: Hub & { url: string };
    let app: { id: string; clientSecret: string };
    before(async () => {
      hub = await startTestHub(engine, { demoApp: false });
      app = await createApp(hub, { name: "race", providers: ["client"] });
    });
    after(() => hub.close());

    test(`${CONCURRENT} at once: exactly one 200, the rest invalid_grant or session_revoked`, async (t) => {
      const seen: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const device = await newDevice();
        const login = await post(hub.url, "/token", {
          grant_type: "client_credentials",
          client_id: app.id,
          client_secret: app.clientSecret,
          sub: `u${round}`,
          dpop_jkt: device.jkt,
        });
        assert.equal(login.status, 200, JSON.stringify(login.body));
        const form = {
          grant_type: "refresh_token",
          client_id: app.id,
          refresh_token: String(login.body.refresh_token),
        };

        // post() makes a fresh proof (new jti) for every request.
        const results: HubResponse[] = await Promise.all(
          Array.from({ length: CONCURRENT }, () => post(hub.url, "/token", form, device, { noRetry: true })),
        );
        const winners = results.filter((r) => r.status === 200);
        const losers = results.filter((r) => r.status !== 200);
        const summary = results.map((r) =>
          r.status === 200 ? "200" : `${r.status} ${String(r.body.error)}`,
        );
        assert.equal(winners.length, 1, summary.join(", "));
        const winner = winners[0]!;
        assert.equal(typeof winner.body.access_token, "string");
        assert.equal(typeof winner.body.refresh_token, "string");
        assert.notEqual(winner.body.refresh_token, form.refresh_token);
        for (const r of losers) {
          assert.equal(r.status, 400, JSON.stringify(r.body));
          assert.ok(
            r.body.error === "invalid_grant" || r.body.error === "session_revoked",
            JSON.stringify(r.body),
          );
        }

        const revoked = losers.some((r) => r.body.error === "session_revoked");
        const next = await post(
          hub.url,
          "/token",
          { ...form, refresh_token: String(winner.body.refresh_token) },
          device,
          { noRetry: true },
        );
        if (revoked) {
          // A late request looked like a replayed token and ended the session, winner's tokens included.
          assert.equal(next.status, 400, JSON.stringify(next.body));
          assert.equal(next.body.error, "session_revoked");
        } else {
          // Every loser lost the atomic update only: the session lives on with the winner's token.
          assert.equal(next.status, 200, JSON.stringify(next.body));
        }
        seen.push(
          `round ${round}: ${losers.filter((r) => r.body.error === "invalid_grant").length} invalid_grant, ` +
            `${losers.filter((r) => r.body.error === "session_revoked").length} session_revoked, ` +
            `winner's token afterwards ${next.status === 200 ? "works" : String(next.body.error)}`,
        );
      }
      for (const line of seen) t.diagnostic(line);
    });
  });
}
