/**
 * The grace for a lost refresh answer (src/auth/tokens.ts, TokenService.refresh): a device
 * sends refresh token T1, the hub rotates it to T2, the answer never arrives, and the
 * device retries with T1. Within REFRESH_GRACE_SECONDS, with the session's key, while T2
 * was never used, the retry is answered with a new successor and T2 is superseded.
 * Everything else that presents a rotated token is still reuse and ends the session.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createDpopProof } from "@meshauth/core";
import { decodeJwt } from "jose";
import { REFRESH_GRACE_SECONDS } from "../src/auth/tokens.js";
import { createHub, type Hub } from "../src/hub.js";
import { type HubResponse, newDevice, post, type TestDevice } from "./helpers/client.js";
import { cleanup, engines } from "./helpers/engines.js";
import { createApp, startTestHub } from "./helpers/hub.js";

after(cleanup);

for (const engine of engines()) {
  describe(`refresh retry after a lost answer on ${engine.name}`, () => {
    let hub: Hub & { url: string };
    let app: { id: string; clientSecret: string };
    let users = 0;

    before(async () => {
      hub = await startTestHub(engine, { demoApp: false });
      app = await createApp(hub, { name: "grace", providers: ["client"] });
    });
    after(() => hub.close());

    /** A session for a new user on a new device (custom auth through the app's backend). */
    async function login(): Promise<{ device: TestDevice; t1: string; sid: string; user: string }> {
      const device = await newDevice();
      const user = `u${++users}`;
      const res = await post(hub.url, "/token", {
        grant_type: "client_credentials",
        client_id: app.id,
        client_secret: app.clientSecret,
        sub: user,
        dpop_jkt: device.jkt,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const sid = decodeJwt(String(res.body.access_token)).sid as string;
      return { device, t1: String(res.body.refresh_token), sid, user };
    }

    const refresh = (device: TestDevice, token: string): Promise<HubResponse> =>
      post(
        hub.url,
        "/token",
        { grant_type: "refresh_token", client_id: app.id, refresh_token: token },
        device,
        { noRetry: true },
      );

    /** Refreshes and returns the new refresh token, failing the test on anything but 200. */
    async function rotate(device: TestDevice, token: string): Promise<string> {
      const res = await refresh(device, token);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return String(res.body.refresh_token);
    }

    const introspect = async (token: string) =>
      (
        await post(hub.url, "/introspect", {
          client_id: app.id,
          client_secret: app.clientSecret,
          token,
        })
      ).body.active;

    const events = async (sid: string, kind: string) =>
      (await hub.store.guards.listEvents(app.id, 1000)).filter((e) => e.sessionId === sid && e.kind === kind);

    const revokedReason = async (sid: string) => (await hub.store.sessions.findSession(sid))?.revokedReason;

    test("T1 retried after its answer was lost: 200 with a new token that works; T2 is dead", async () => {
      const { device, t1, sid } = await login();
      const t2 = await rotate(device, t1); // the answer that "never arrived"

      const retry = await refresh(device, t1);
      assert.equal(retry.status, 200, JSON.stringify(retry.body));
      const t2b = String(retry.body.refresh_token);
      assert.notEqual(t2b, t2);
      assert.notEqual(t2b, t1);
      assert.equal(decodeJwt(String(retry.body.access_token)).sid, sid, "the same session goes on");
      assert.equal(await introspect(t2), false, "the lost token can no longer be redeemed");
      assert.equal(await introspect(t2b), true);

      const [event] = await events(sid, "refresh_retry_after_lost_response");
      assert.ok(event, "a security event records the retry");
      assert.equal(event.detail.superseded_generation, 1);
      assert.equal(event.detail.generation, 0);

      // The new token is the session's current one and rotates normally.
      const t3 = await rotate(device, t2b);
      assert.equal(await introspect(t3), true);
      assert.equal(await revokedReason(sid), null);
    });

    test("the superseded T2 presented later is reuse: the session ends", async () => {
      const { device, t1, sid } = await login();
      const t2 = await rotate(device, t1);
      const t2b = await rotate(device, t1);
      const late = await refresh(device, t2);
      assert.equal(late.status, 400);
      assert.equal(late.body.meshauth_error, "session_revoked");
      assert.equal(await revokedReason(sid), "refresh_token_reuse");
      const [event] = await events(sid, "refresh_token_reuse");
      assert.equal(event?.detail.superseded, true);
      assert.equal((await refresh(device, t2b)).body.meshauth_error, "session_revoked");
    });

    test("T1 retried after T2 was used: reuse, the session ends", async () => {
      const { device, t1, sid } = await login();
      const t2 = await rotate(device, t1);
      const t3 = await rotate(device, t2);
      const reuse = await refresh(device, t1);
      assert.equal(reuse.status, 400);
      assert.equal(reuse.body.meshauth_error, "session_revoked");
      assert.equal(await revokedReason(sid), "refresh_token_reuse");
      assert.equal((await events(sid, "refresh_retry_after_lost_response")).length, 0);
      assert.equal((await refresh(device, t3)).body.meshauth_error, "session_revoked");
    });

    test("an older generation (T1 when T2 was used and T3 never arrived): reuse", async () => {
      const { device, t1, sid } = await login();
      const t2 = await rotate(device, t1);
      await rotate(device, t2);
      const reuse = await refresh(device, t1);
      assert.equal(reuse.body.meshauth_error, "session_revoked");
      assert.equal(await revokedReason(sid), "refresh_token_reuse");
    });

    test("a second retry of T1 after a successful one: reuse", async () => {
      const { device, t1, sid } = await login();
      await rotate(device, t1);
      await rotate(device, t1);
      const again = await refresh(device, t1);
      assert.equal(again.body.meshauth_error, "session_revoked");
      assert.equal(await revokedReason(sid), "refresh_token_reuse");
    });

    test("T1 retried with another key: invalid_grant and refresh_wrong_key; the session and the grace are untouched", async () => {
      const { device, t1, sid } = await login();
      const t2 = await rotate(device, t1);
      const thief = await newDevice();
      const stolen = await refresh(thief, t1);
      assert.equal(stolen.status, 400);
      assert.equal(stolen.body.error, "invalid_grant");
      assert.match(String(stolen.body.error_description), /another device key/);
      assert.equal((await events(sid, "refresh_wrong_key")).length, 1);
      assert.equal(await revokedReason(sid), null);
      assert.equal(await introspect(t2), true, "T2 was not superseded by the other key");
      // The owner's own retry still gets the grace.
      const retry = await refresh(device, t1);
      assert.equal(retry.status, 200, JSON.stringify(retry.body));
    });

    test(`T1 retried ${REFRESH_GRACE_SECONDS} s after it was rotated: reuse, the session ends`, async () => {
      const { device, t1, sid } = await login();
      const t2 = await rotate(device, t1);
      // The same database, a hub whose clock is REFRESH_GRACE_SECONDS ahead; the proof carries that time too.
      const offset = REFRESH_GRACE_SECONDS;
      const later = await createHub({ ...hub.config, clockOffsetSeconds: offset });
      try {
        const proof = await createDpopProof({
          privateKey: device.keys.privateKey,
          publicKey: device.keys.publicKey,
          htm: "POST",
          htu: `${hub.config.issuer}/token`,
          iat: Math.floor(Date.now() / 1000) + offset,
        });
        const res = await later.http.inject({
          method: "POST",
          url: "/token",
          headers: { "content-type": "application/x-www-form-urlencoded", dpop: proof },
          payload: new URLSearchParams({
            grant_type: "refresh_token",
            client_id: app.id,
            refresh_token: t1,
          }).toString(),
        });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().meshauth_error, "session_revoked");
      } finally {
        await later.close();
      }
      assert.equal(await revokedReason(sid), "refresh_token_reuse");
      assert.equal((await refresh(device, t2)).body.meshauth_error, "session_revoked");
    });

    /**
     * Runs `between` once, right after the hub read `method`'s answer inside the next
     * refresh, so a competing request lands exactly between the read and the compare-and-set.
     */
    function interleave(method: "newestRefreshToken" | "findUser", between: () => Promise<unknown>): void {
      type Method = (...args: unknown[]) => Promise<unknown>;
      const store = hub.store.sessions;
      const methods = store as unknown as Record<string, Method>;
      const original = methods[method]!;
      methods[method] = async (...args: unknown[]) => {
        methods[method] = original; // once
        const answer = await original.apply(store, args);
        await between();
        return answer;
      };
    }

    const settle = <T>(p: Promise<T>) =>
      p.then(
        (value) => ({ value, error: undefined }),
        // meshauth's precise reason where there is one (`session_revoked` under `invalid_grant`).
        (error: { code?: string; details?: { meshauth_error?: string } }) => ({
          value: undefined,
          error: error.details?.meshauth_error ?? error.code,
        }),
      );

    test("interleaved: a retry loses to another retry between its read and its compare-and-set: invalid_grant, the session lives", async () => {
      const { device, t1, sid } = await login();
      await rotate(device, t1);
      const resolved = await hub.apps.resolve(app.id);
      let first: { value?: { refresh_token?: string }; error?: string } = {};
      interleave("newestRefreshToken", async () => {
        first = await settle(hub.tokens.refresh(resolved, t1, device.jkt));
      });
      const second = await settle(hub.tokens.refresh(resolved, t1, device.jkt));
      assert.equal(first.error, undefined, "the retry that ran in between won");
      assert.equal(second.error, "invalid_grant");
      assert.equal(await revokedReason(sid), null);
      await rotate(device, String(first.value?.refresh_token));
    });

    test("interleaved: T2 redeemed between a retry's read and its compare-and-set: reuse, the session ends", async () => {
      const { device, t1, sid } = await login();
      const t2 = await rotate(device, t1);
      const resolved = await hub.apps.resolve(app.id);
      let redeemed: { error?: string } = {};
      interleave("newestRefreshToken", async () => {
        redeemed = await settle(hub.tokens.refresh(resolved, t2, device.jkt));
      });
      const retry = await settle(hub.tokens.refresh(resolved, t1, device.jkt));
      assert.equal(redeemed.error, undefined, "T2 was redeemed normally");
      assert.equal(retry.error, "session_revoked");
      assert.equal(await revokedReason(sid), "refresh_token_reuse");
    });

    test("interleaved: T2 superseded by a retry while being redeemed: reuse, the session ends", async () => {
      const { device, t1, sid } = await login();
      const t2 = await rotate(device, t1);
      const resolved = await hub.apps.resolve(app.id);
      let retry: { error?: string } = {};
      interleave("findUser", async () => {
        retry = await settle(hub.tokens.refresh(resolved, t1, device.jkt));
      });
      const redeem = await settle(hub.tokens.refresh(resolved, t2, device.jkt));
      assert.equal(retry.error, undefined, "the retry superseded T2");
      assert.equal(redeem.error, "session_revoked");
      assert.equal(await revokedReason(sid), "refresh_token_reuse");
    });

    test("two grace retries at once: exactly one 200; the other changes nothing or ends the session", async (t) => {
      const seen: string[] = [];
      for (let round = 0; round < 5; round++) {
        const { device, t1 } = await login();
        const t2 = await rotate(device, t1);
        const results = await Promise.all([refresh(device, t1), refresh(device, t1)]);
        const summary = results.map((r) =>
          r.status === 200 ? "200" : `${r.status} ${String(r.body.error)}`,
        );
        const winners = results.filter((r) => r.status === 200);
        assert.equal(winners.length, 1, summary.join(", "));
        const loser = results.find((r) => r.status !== 200)!;
        assert.equal(loser.status, 400);
        // invalid_grant: it lost the compare-and-set on T2. session_revoked: it read the
        // session after the winner had issued T2', so T1 was two generations behind.
        assert.ok(
          loser.body.error === "invalid_grant" || loser.body.meshauth_error === "session_revoked",
          JSON.stringify(loser.body),
        );
        assert.equal(await introspect(t2), false);
        const next = await refresh(device, String(winners[0]!.body.refresh_token));
        if (loser.body.meshauth_error === "session_revoked")
          assert.equal(next.body.meshauth_error, "session_revoked");
        else assert.equal(next.status, 200, JSON.stringify(next.body));
        seen.push(`round ${round}: loser ${String(loser.body.error)}`);
      }
      for (const line of seen) t.diagnostic(line);
    });
  });
}
