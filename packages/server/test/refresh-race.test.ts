/**
 * Ten refreshes with one refresh token from one device at once, each with its own proof.
 *
 * What the hub does (src/auth/tokens.ts, TokenService.refresh): every request first reads
 * the token. One request wins the atomic "mark used where not yet used" update and gets
 * new tokens. A request that read the token before that update and then loses it gets
 * `invalid_grant` and changes nothing. A request that reads the token after the winner
 * marked it used looks exactly like a device retrying after the winner's answer was
 * lost: while the winner's new token is still unused, one such request may win the grace
 * (it supersedes the winner's new token and gets its own). A request that reads the
 * token after that takes it for a stolen copy being replayed: it revokes the session and
 * gets `session_revoked`. So one or two requests get 200, and the newest refresh token
 * handed out works only if no request came late enough to trigger reuse detection; which
 * happens depends on timing.
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

    test(`${CONCURRENT} at once: one 200 (two with a lost-answer retry), the rest invalid_grant or session_revoked`, async (t) => {
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
        // The rotation itself, and at most one retry within the grace (it takes the successor's place).
        assert.ok(winners.length === 1 || winners.length === 2, summary.join(", "));
        for (const winner of winners) {
          assert.equal(typeof winner.body.access_token, "string");
          assert.equal(typeof winner.body.refresh_token, "string");
          assert.notEqual(winner.body.refresh_token, form.refresh_token);
        }
        for (const r of losers) {
          assert.equal(r.status, 400, JSON.stringify(r.body));
          assert.ok(
            r.body.error === "invalid_grant" || r.body.meshauth_error === "session_revoked",
            JSON.stringify(r.body),
          );
        }

        // Which winner's refresh token is the session's current one (introspection does not use it up).
        const active: string[] = [];
        for (const w of winners) {
          const token = String(w.body.refresh_token);
          const r = await post(hub.url, "/introspect", {
            client_id: app.id,
            client_secret: app.clientSecret,
            token,
          });
          if (r.body.active === true) active.push(token);
        }
        const revoked = losers.some((r) => r.body.meshauth_error === "session_revoked");
        if (revoked) {
          // A late request looked like a replayed token and ended the session, winners' tokens included.
          assert.deepEqual(active, []);
          const next = await post(
            hub.url,
            "/token",
            { ...form, refresh_token: String(winners[0]!.body.refresh_token) },
            device,
            { noRetry: true },
          );
          assert.equal(next.status, 400, JSON.stringify(next.body));
          assert.equal(next.body.meshauth_error, "session_revoked");
        } else {
          // The session lives on with exactly one current token: the retry's when there was one.
          assert.equal(active.length, 1, summary.join(", "));
          const next = await post(hub.url, "/token", { ...form, refresh_token: active[0]! }, device, {
            noRetry: true,
          });
          assert.equal(next.status, 200, JSON.stringify(next.body));
        }
        seen.push(
          `round ${round}: ${winners.length} × 200, ` +
            `${losers.filter((r) => r.body.error === "invalid_grant" && r.body.meshauth_error === undefined).length} invalid_grant, ` +
            `${losers.filter((r) => r.body.meshauth_error === "session_revoked").length} session_revoked`,
        );
      }
      for (const line of seen) t.diagnostic(line);
    });
  });
}
