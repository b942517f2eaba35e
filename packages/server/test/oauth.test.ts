import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createDpopProof, generateDpopKeyPair } from "@meshauth/core";
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT, UnsecuredJWT } from "jose";
import type { Hub } from "../src/hub.js";
import { createHub } from "../src/hub.js";
import { type HubResponse, newDevice, post, type TestDevice } from "./helpers/client.js";
import { cleanup, engines } from "./helpers/engines.js";
import { admin, createApp, freePort, startTestHub } from "./helpers/hub.js";
import { startSmtpServer, type TestSmtpServer } from "./helpers/smtp.js";

after(cleanup);

const OTP_GRANT = "urn:meshauth:grant-type:otp";
const ALL_ACCESS = {
  read: { everything: true, queriesByCollection: {} },
  write: { everything: true, queriesByCollection: {} },
};

for (const engine of engines()) {
  describe(`OAuth endpoints on ${engine.name}`, () => {
    let hub: Hub & { url: string };
    let smtp: TestSmtpServer;
    let app: { id: string; clientSecret: string };
    let emailCounter = 0;

    before(async () => {
      smtp = await startSmtpServer();
      hub = await startTestHub(engine, { smtpUrl: smtp.url, demoApp: false });
      app = await createApp(hub, {
        name: "notes",
        providers: ["otp", "client"],
        defaultPermissions: {
          read: { everything: false, queriesByCollection: { notes: ["_id.owner == 'me'"] } },
          write: { everything: false, queriesByCollection: {} },
        },
      });
    });
    after(async () => {
      await hub.close();
      await smtp.close();
    });

    const freshEmail = () => `user${++emailCounter}.${engine.name}@example.com`;

    /** Asks for a code and reads it from the email the real SMTP server received. */
    async function requestCode(email: string): Promise<{ otpId: string; code: string }> {
      const res = await post(hub.url, "/otp", { client_id: app.id, email });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const message = await smtp.waitForMessage((m) => m.to.includes(email), 10_000);
      const code = /\b(\d{8})\b/.exec(message.text ?? "")?.[1];
      assert.ok(code, `no code in: ${message.text}`);
      assert.ok(message.subject.includes(code), "the subject carries the code");
      return { otpId: res.body.otp_id as string, code };
    }

    async function emailLogin(
      email = freshEmail(),
      device?: TestDevice,
    ): Promise<{ device: TestDevice; tokens: Record<string, unknown> }> {
      const d = device ?? (await newDevice());
      const { otpId, code } = await requestCode(email);
      const res = await post(
        hub.url,
        "/token",
        { grant_type: OTP_GRANT, client_id: app.id, otp_id: otpId, otp: code },
        d,
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return { device: d, tokens: res.body };
    }

    const refresh = (device: TestDevice, refreshToken: unknown): Promise<HubResponse> =>
      post(
        hub.url,
        "/token",
        { grant_type: "refresh_token", client_id: app.id, refresh_token: String(refreshToken) },
        device,
      );

    test("email login end to end: code by real SMTP, DPoP-bound tokens, refresh rotation, logout on the hub", async () => {
      const email = freshEmail();
      const { device, tokens } = await emailLogin(email);
      assert.equal(tokens.token_type, "DPoP");
      assert.equal(tokens.expires_in, 900);
      assert.match(String(tokens.refresh_token), /^mr_/);
      const identity = tokens.identity as Record<string, unknown>;
      assert.equal(identity.appId, app.id);
      assert.equal(identity.userId, email);
      assert.equal(identity.peerKey, device.jkt);
      assert.equal(identity.provider, "otp");
      assert.deepEqual((identity.permissions as { read: unknown }).read, {
        everything: false,
        queriesByCollection: { notes: ["_id.owner == 'me'"] },
      });

      const at = String(tokens.access_token);
      assert.equal(decodeProtectedHeader(at).typ, "at+jwt");
      const jwks = createLocalJWKSet((await hub.http.inject("/jwks.json")).json());
      const { payload } = await jwtVerify(at, jwks, {
        issuer: hub.config.issuer,
        audience: app.id,
        typ: "at+jwt",
      });
      assert.deepEqual(payload.cnf, { jkt: device.jkt });
      assert.equal(payload.sub, email);
      assert.equal(payload.client_id, app.id);
      assert.ok(payload.jti && payload.iat && payload.exp);

      const r1 = await refresh(device, tokens.refresh_token);
      assert.equal(r1.status, 200, JSON.stringify(r1.body));
      assert.notEqual(r1.body.refresh_token, tokens.refresh_token, "each use rotates the refresh token");
      assert.equal(r1.headers.get("cache-control"), "no-store");

      const revoked = await post(hub.url, "/revoke", {
        client_id: app.id,
        token: String(r1.body.refresh_token),
      });
      assert.equal(revoked.status, 200);
      const afterLogout = await refresh(device, r1.body.refresh_token);
      assert.equal(afterLogout.status, 400);
      assert.equal(afterLogout.body.meshauth_error, "session_revoked");
    });

    test("/revoke: a public client cannot end a session with an access token; the app's backend can", async () => {
      const backendLogin = async (sub: string) => {
        const device = await newDevice();
        const res = await post(hub.url, "/token", {
          grant_type: "client_credentials",
          client_id: app.id,
          client_secret: app.clientSecret,
          sub,
          dpop_jkt: device.jkt,
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return { device, tokens: res.body };
      };
      const { device, tokens } = await backendLogin(`revoke-${engine.name}@example.com`);
      const at = String(tokens.access_token);
      // Anyone an access token was shown to (every API it is sent to) could otherwise log the user out.
      const hints: Record<string, string>[] = [
        {},
        { token_type_hint: "access_token" },
        { token_type_hint: "refresh_token" },
      ];
      for (const extra of hints) {
        const res = await post(hub.url, "/revoke", { client_id: app.id, token: at, ...extra });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error, "unsupported_token_type");
      }
      // The same answer for anything shaped like a JWT, so it says nothing about the token.
      const junk = await post(hub.url, "/revoke", { client_id: app.id, token: "a.b.c" });
      assert.equal(junk.body.error, "unsupported_token_type");
      const unknown = await post(hub.url, "/revoke", { client_id: app.id, token: "mr_unknown" });
      assert.equal(unknown.status, 200, "an unknown refresh token is still 200 (RFC 7009)");
      const still = await refresh(device, tokens.refresh_token);
      assert.equal(still.status, 200, "the session lives on");

      const introspect = (token: string) =>
        post(hub.url, "/introspect", { client_id: app.id, client_secret: app.clientSecret, token });
      assert.equal((await introspect(at)).body.active, true);
      const byBackend = await post(hub.url, "/revoke", {
        client_id: app.id,
        client_secret: app.clientSecret,
        token: at,
      });
      assert.equal(byBackend.status, 200, JSON.stringify(byBackend.body));
      assert.equal((await introspect(at)).body.active, false);
      assert.equal((await refresh(device, still.body.refresh_token)).body.meshauth_error, "session_revoked");

      // HTTP Basic authenticates the backend too.
      const other = await backendLogin(`revoke-basic-${engine.name}@example.com`);
      const basic = Buffer.from(
        `${encodeURIComponent(app.id)}:${encodeURIComponent(app.clientSecret)}`,
      ).toString("base64");
      const byBasic = await post(
        hub.url,
        "/revoke",
        { token: String(other.tokens.access_token), token_type_hint: "access_token" },
        undefined,
        { headers: { authorization: `Basic ${basic}` } },
      );
      assert.equal(byBasic.status, 200, JSON.stringify(byBasic.body));
      assert.equal(
        (await refresh(other.device, other.tokens.refresh_token)).body.meshauth_error,
        "session_revoked",
      );
    });

    test("the answer to /otp is the same for a known and an unknown address", async () => {
      // The known user exists through the backend, so no code was sent to it yet.
      const known = freshEmail();
      const device = await newDevice();
      const made = await post(hub.url, "/token", {
        grant_type: "client_credentials",
        client_id: app.id,
        client_secret: app.clientSecret,
        sub: known,
        email: known,
        dpop_jkt: device.jkt,
      });
      assert.equal(made.status, 200);
      const a = await post(hub.url, "/otp", { client_id: app.id, email: known });
      const b = await post(hub.url, "/otp", { client_id: app.id, email: freshEmail() });
      assert.equal(a.status, 200);
      assert.equal(a.status, b.status);
      assert.deepEqual(Object.keys(a.body).sort(), ["expires_in", "otp_id"]);
      assert.deepEqual(Object.keys(b.body).sort(), ["expires_in", "otp_id"]);
      assert.equal(a.body.expires_in, b.body.expires_in);
    });

    test("a stolen refresh token is useless with another key; the owner's session goes on", async () => {
      const { device, tokens } = await emailLogin();
      const thief = await newDevice();
      const stolen = await refresh(thief, tokens.refresh_token);
      assert.equal(stolen.status, 400);
      assert.equal(stolen.body.error, "invalid_grant");
      assert.match(String(stolen.body.error_description), /another device key/);
      const owner = await refresh(device, tokens.refresh_token);
      assert.equal(owner.status, 200);
    });

    test("reusing a rotated refresh token ends the whole session and is logged as a security event", async () => {
      const email = freshEmail();
      const { device, tokens } = await emailLogin(email);
      const r1 = await refresh(device, tokens.refresh_token);
      assert.equal(r1.status, 200);
      // r1's token is used, so the first one is no retry after a lost answer (refresh-grace.test.ts).
      const r2 = await refresh(device, r1.body.refresh_token);
      assert.equal(r2.status, 200);
      const reuse = await refresh(device, tokens.refresh_token);
      assert.equal(reuse.status, 400);
      assert.equal(reuse.body.meshauth_error, "session_revoked");
      const newest = await refresh(device, r2.body.refresh_token);
      assert.equal(
        newest.body.meshauth_error,
        "session_revoked",
        "the rotated-to token dies with the session",
      );
      const events = (
        await hub.http.inject({ url: `/admin/apps/${app.id}/security-events`, headers: admin(hub) })
      ).json().events;
      assert.ok(
        events.some(
          (e: { kind: string; userId: string }) => e.kind === "refresh_token_reuse" && e.userId === email,
        ),
      );
    });

    test("DPoP attacks: replayed proof, proof for another URL or method, stale iat, missing proof", async () => {
      const { device, tokens } = await emailLogin();
      const proof = await createDpopProof({
        privateKey: device.keys.privateKey,
        publicKey: device.keys.publicKey,
        htm: "POST",
        htu: `${hub.url}/token`,
      });
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        client_id: app.id,
        refresh_token: String(tokens.refresh_token),
      }).toString();
      const send = (dpop: string | undefined) =>
        fetch(`${hub.url}/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", ...(dpop ? { dpop } : {}) },
          body: form,
        });
      const first = await send(proof);
      assert.equal(first.status, 200);
      const replay = await send(proof);
      assert.equal(replay.status, 400);
      assert.equal(((await replay.json()) as { error: string }).error, "invalid_dpop_proof");

      const wrongUrl = await createDpopProof({
        privateKey: device.keys.privateKey,
        publicKey: device.keys.publicKey,
        htm: "POST",
        htu: `${hub.url}/otp`,
      });
      assert.equal(((await (await send(wrongUrl)).json()) as { error: string }).error, "invalid_dpop_proof");
      const wrongMethod = await createDpopProof({
        privateKey: device.keys.privateKey,
        publicKey: device.keys.publicKey,
        htm: "GET",
        htu: `${hub.url}/token`,
      });
      assert.equal(
        ((await (await send(wrongMethod)).json()) as { error: string }).error,
        "invalid_dpop_proof",
      );
      const old = await createDpopProof({
        privateKey: device.keys.privateKey,
        publicKey: device.keys.publicKey,
        htm: "POST",
        htu: `${hub.url}/token`,
        iat: Math.floor(Date.now() / 1000) - 3600,
      });
      const skew = (await (await send(old)).json()) as { error: string; server_time: number };
      assert.equal(skew.error, "clock_skew");
      assert.ok(Math.abs(skew.server_time - Date.now() / 1000) < 5);
      const none = (await (await send(undefined)).json()) as { error: string };
      assert.equal(none.error, "invalid_dpop_proof");
    });

    test("email code limits: 5 wrong guesses kill a code, a used code is refused, sends are rate-limited", async () => {
      const device = await newDevice();
      const email = freshEmail();
      const { otpId, code } = await requestCode(email);
      const wrong = code === "00000000" ? "11111111" : "00000000";
      const errors: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await post(
          hub.url,
          "/token",
          { grant_type: OTP_GRANT, client_id: app.id, otp_id: otpId, otp: wrong },
          device,
        );
        errors.push(String(r.body.error));
      }
      assert.deepEqual(errors, [
        "invalid_otp",
        "invalid_otp",
        "invalid_otp",
        "invalid_otp",
        "too_many_attempts",
      ]);
      const late = await post(
        hub.url,
        "/token",
        { grant_type: OTP_GRANT, client_id: app.id, otp_id: otpId, otp: code },
        device,
      );
      assert.equal(
        late.body.error,
        "too_many_attempts",
        "the right code no longer works once the code is dead",
      );

      const again = await post(hub.url, "/otp", { client_id: app.id, email });
      assert.equal(again.status, 429, "one send per address per 30 seconds");
      assert.equal(again.body.error, "rate_limited");

      const other = freshEmail();
      const ok = await requestCode(other);
      const first = await post(
        hub.url,
        "/token",
        { grant_type: OTP_GRANT, client_id: app.id, otp_id: ok.otpId, otp: ok.code },
        device,
      );
      assert.equal(first.status, 200);
      const reuse = await post(
        hub.url,
        "/token",
        { grant_type: OTP_GRANT, client_id: app.id, otp_id: ok.otpId, otp: ok.code },
        device,
      );
      assert.equal(reuse.body.error, "invalid_otp");
    });

    test("custom auth: the app's backend gets tokens bound to the user's device key", async () => {
      const device = await newDevice();
      const basic = `Basic ${Buffer.from(`${app.id}:${app.clientSecret}`).toString("base64")}`;
      const res = await post(
        hub.url,
        "/token",
        {
          grant_type: "client_credentials",
          sub: "backend-user-1",
          email: "b@example.com",
          dpop_jkt: device.jkt,
          permissions: JSON.stringify(ALL_ACCESS),
        },
        undefined,
        {
          headers: { authorization: basic },
        },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal((res.body.identity as { peerKey: string }).peerKey, device.jkt);
      assert.equal((res.body.identity as { provider: string }).provider, "client");
      assert.equal(decodeJwt(String(res.body.access_token)).sub, "backend-user-1");
      const byDevice = await refresh(device, res.body.refresh_token);
      assert.equal(byDevice.status, 200, "the browser refreshes with its own key");
      const byBackend = await refresh(await newDevice(), byDevice.body.refresh_token);
      assert.equal(byBackend.body.error, "invalid_grant");

      const badPerms = await post(hub.url, "/token", {
        grant_type: "client_credentials",
        client_id: app.id,
        client_secret: app.clientSecret,
        sub: "u2",
        dpop_jkt: device.jkt,
        permissions: JSON.stringify({
          read: { everything: false, queriesByCollection: { cars: ["title == 'x'"] } },
          write: { everything: false, queriesByCollection: {} },
        }),
      });
      assert.equal(badPerms.status, 400);
      assert.equal(badPerms.body.error, "invalid_permissions");
      const badJkt = await post(hub.url, "/token", {
        grant_type: "client_credentials",
        client_id: app.id,
        client_secret: app.clientSecret,
        sub: "u2",
        dpop_jkt: "short",
      });
      assert.match(String(badJkt.body.error_description), /^dpop_jkt/);

      const own = await post(
        hub.url,
        "/token",
        { grant_type: "client_credentials", client_id: app.id, client_secret: app.clientSecret },
        await newDevice(),
      );
      assert.equal(own.status, 200);
      assert.equal(own.body.refresh_token, undefined, "a backend's own token has no refresh token");
      assert.equal(decodeJwt(String(own.body.access_token)).sub, `client:${app.id}`);
    });

    test("introspection reflects revocation and disabled users; forged tokens are inactive", async () => {
      const email = freshEmail();
      const { device, tokens } = await emailLogin(email);
      const introspect = (token: string) =>
        post(hub.url, "/introspect", { client_id: app.id, client_secret: app.clientSecret, token });
      const live = await introspect(String(tokens.access_token));
      assert.equal(live.body.active, true);
      assert.equal(live.body.sub, email);
      assert.equal((await introspect(String(tokens.refresh_token))).body.active, true);

      const key = await generateDpopKeyPair("ES256", { extractable: true });
      const claims = { ...decodeJwt(String(tokens.access_token)) };
      const foreign = await new SignJWT(claims)
        .setProtectedHeader({
          alg: "ES256",
          typ: "at+jwt",
          kid: decodeProtectedHeader(String(tokens.access_token)).kid as string,
        })
        .sign(key.privateKey);
      const hs = await new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
        .sign(new TextEncoder().encode("x".repeat(32)));
      const none = new UnsecuredJWT(claims).encode();
      const expired = await hub.keys.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 }, "at+jwt");
      const notYet = await hub.keys.sign({ ...claims, nbf: Math.floor(Date.now() / 1000) + 3600 }, "at+jwt");
      const wrongTyp = await hub.keys.sign(claims, "JWT");
      const otherAud = await hub.keys.sign({ ...claims, aud: "another-app" }, "at+jwt");
      for (const [name, t] of Object.entries({ foreign, hs, none, expired, notYet, wrongTyp, otherAud })) {
        assert.equal((await introspect(t)).body.active, false, name);
        await assert.rejects(
          hub.tokens.verifyAccessToken(t, await hub.apps.resolve(app.id)),
          (e: { code?: string }) => e.code === "invalid_token",
          name,
        );
      }

      const disabled = await hub.http.inject({
        method: "POST",
        url: `/admin/apps/${app.id}/users/${encodeURIComponent(email)}/disable`,
        headers: admin(hub),
      });
      assert.equal(disabled.statusCode, 200);
      assert.equal((await introspect(String(tokens.access_token))).body.active, false);
      const refused = await refresh(device, tokens.refresh_token);
      assert.ok(
        ["user_disabled", "session_revoked"].includes(
          String(refused.body.meshauth_error ?? refused.body.error),
        ),
      );
      // A new login fails at once too (through the backend here: the address's 30 s email limit is still running).
      const login = await post(hub.url, "/token", {
        grant_type: "client_credentials",
        client_id: app.id,
        client_secret: app.clientSecret,
        sub: email,
        dpop_jkt: device.jkt,
      });
      assert.equal(login.status, 403);
      assert.equal(login.body.error, "user_disabled");
    });

    test("admin: list a user's sessions and end them", async () => {
      const email = freshEmail();
      const a = await emailLogin(email);
      const second = await requestCode(email).catch(() => undefined);
      assert.equal(second, undefined, "a second code within 30 s is refused");
      const sessions = (
        await hub.http.inject({
          url: `/admin/apps/${app.id}/users/${encodeURIComponent(email)}/sessions`,
          headers: admin(hub),
        })
      ).json().sessions;
      assert.equal(sessions.length, 1);
      assert.equal(sessions[0].jkt, a.device.jkt);
      assert.equal(sessions[0].active, true);
      const del = await hub.http.inject({
        method: "DELETE",
        url: `/admin/apps/${app.id}/sessions/${sessions[0].id}`,
        headers: admin(hub),
      });
      assert.equal(del.statusCode, 204);
      assert.equal((await refresh(a.device, a.tokens.refresh_token)).body.meshauth_error, "session_revoked");
    });

    test("client secret guessing is refused and then rate-limited", async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 21; i++) {
        const r = await post(hub.url, "/introspect", {
          client_id: app.id,
          client_secret: `${app.clientSecret.split(".")[0]}.guess${i}`,
          token: "x",
        });
        statuses.push(r.status);
      }
      assert.deepEqual(statuses.slice(0, 20), Array(20).fill(401));
      assert.equal(statuses[20], 429);
      const right = await post(hub.url, "/introspect", {
        client_id: app.id,
        client_secret: app.clientSecret,
        token: "x",
      });
      assert.equal(right.status, 429, "locked out for the window, even with the right secret");
    });

    test("bad requests get clear 4xx errors", async () => {
      const form = (body: string, type = "application/x-www-form-urlencoded") =>
        fetch(`${hub.url}/token`, { method: "POST", headers: { "content-type": type }, body }).then(
          async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> }),
        );
      assert.deepEqual((await form("grant_type=password&username=a")).body.error, "unsupported_grant_type");
      assert.equal((await form("client_id=x")).body.error_description, "grant_type is required");
      assert.equal(
        (await form("grant_type=refresh_token&grant_type=refresh_token")).body.error,
        "invalid_request",
      );
      assert.equal((await form(`grant_type=refresh_token&client_id=${"a".repeat(20_000)}`)).status, 413);
      assert.equal((await form("{not json", "application/json")).status, 400);
      assert.equal((await form("<x/>", "text/xml")).status, 415);
      const unknownClient = await form("grant_type=refresh_token&client_id=nope&refresh_token=x");
      assert.equal(unknownClient.status, 401);
      assert.equal(unknownClient.body.error, "invalid_client");
      const badEmail = await post(hub.url, "/otp", { client_id: app.id, email: "not an email" });
      assert.equal(badEmail.status, 400);
      assert.match(String(badEmail.body.error_description), /^email:/);
    });

    test("discovery lists the OAuth endpoints", async () => {
      const doc = (await hub.http.inject("/.well-known/oauth-authorization-server")).json();
      assert.equal(doc.token_endpoint, `${hub.url}/token`);
      assert.equal(doc.otp_endpoint, `${hub.url}/otp`);
      assert.equal(doc.revocation_endpoint, `${hub.url}/revoke`);
      assert.equal(doc.introspection_endpoint, `${hub.url}/introspect`);
      assert.ok(doc.grant_types_supported.includes("refresh_token"));
      assert.ok(!doc.dpop_signing_alg_values_supported.includes("HS256"));
    });
  });

  describe(`expiry on ${engine.name}`, () => {
    test("an email code expires after 10 minutes and a session after its idle lifetime", async () => {
      const smtp = await startSmtpServer();
      const port = await freePort();
      const hub = await startTestHub(engine, {
        smtpUrl: smtp.url,
        demoApp: false,
        port,
        issuer: `http://127.0.0.1:${port}`,
      });
      const app = await createApp(hub, {
        name: "short",
        providers: ["otp"],
        sessionIdleTtl: 3600,
        sessionAbsoluteTtl: 7200,
      });
      const device = await newDevice();
      const first = await post(hub.url, "/otp", { client_id: app.id, email: "late@example.com" });
      const message = await smtp.waitForMessage(() => true, 10_000);
      const code = /\b(\d{8})\b/.exec(message.text ?? "")?.[1] as string;
      const second = await post(hub.url, "/otp", { client_id: app.id, email: "idle@example.com" });
      const message2 = await smtp.waitForMessage((m) => m.to.includes("idle"), 10_000);
      const code2 = /\b(\d{8})\b/.exec(message2.text ?? "")?.[1] as string;
      const login = await post(
        hub.url,
        "/token",
        { grant_type: OTP_GRANT, client_id: app.id, otp_id: String(second.body.otp_id), otp: code2 },
        device,
      );
      assert.equal(login.status, 200);
      await hub.close();

      // Later: the same database with the clock 601 s (then 3601 s) ahead. Proofs carry the shifted time too.
      const later = async (offset: number) => {
        const h = await createHub({ ...hub.config, clockOffsetSeconds: offset });
        await h.listen();
        return h;
      };
      const proofAt = async (offset: number) =>
        createDpopProof({
          privateKey: device.keys.privateKey,
          publicKey: device.keys.publicKey,
          htm: "POST",
          htu: `${hub.url}/token`,
          iat: Math.floor(Date.now() / 1000) + offset,
        });
      const send = async (form: Record<string, string>, offset: number) => {
        const r = await fetch(`${hub.url}/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", dpop: await proofAt(offset) },
          body: new URLSearchParams(form),
        });
        return (await r.json()) as Record<string, string>;
      };
      const h1 = await later(601);
      try {
        const expired = await send(
          { grant_type: OTP_GRANT, client_id: app.id, otp_id: String(first.body.otp_id), otp: code },
          601,
        );
        assert.equal(expired.error, "otp_expired");
      } finally {
        await h1.close();
      }
      const h2 = await later(3601);
      try {
        const idle = await send(
          { grant_type: "refresh_token", client_id: app.id, refresh_token: String(login.body.refresh_token) },
          3601,
        );
        assert.equal(idle.error, "invalid_grant");
        assert.match(idle.error_description as string, /idle/);
      } finally {
        await h2.close();
        await smtp.close();
      }
    });
  });
}
