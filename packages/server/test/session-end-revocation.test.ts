// Certificates end when their session does: every way a session ends puts it on the app's
// signed revocation list (when it has a certificate that has not expired), and certificates
// last the app's certificateTtl at most.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import {
  CertificateError,
  createCertificateSigningRequest,
  createDpopProof,
  generateDeviceKey,
  inspectCertificate,
  jwkThumbprint,
  type RevocationList,
  verifyPeerCertificate,
  verifyRevocationList,
} from "@meshauth/core";
import { createRemoteJWKSet } from "jose";
import { post, type TestDevice } from "./helpers/client.js";
import { cleanup, engines } from "./helpers/engines.js";
import { admin, createApp, startTestHub } from "./helpers/hub.js";

after(cleanup);

type TestHub = Awaited<ReturnType<typeof startTestHub>>;

interface LoggedIn {
  device: TestDevice;
  accessToken: string;
  refreshToken: string;
}

async function login(hub: TestHub, app: { id: string; playgroundToken?: string }): Promise<LoggedIn> {
  const keys = await generateDeviceKey();
  const device: TestDevice = { keys, jkt: await jwkThumbprint(keys.publicKey) };
  const res = await post(
    hub.url,
    "/token",
    {
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      client_id: app.id,
      provider: "playground",
      subject_token: String(app.playgroundToken),
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    },
    device,
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { device, accessToken: String(res.body.access_token), refreshToken: String(res.body.refresh_token) };
}

async function requestCertificate(hub: TestHub, who: LoggedIn): Promise<Response> {
  const dpop = await createDpopProof({
    privateKey: who.device.keys.privateKey,
    publicKey: who.device.keys.publicKey,
    htm: "POST",
    htu: `${hub.url}/certificate`,
    accessToken: who.accessToken,
  });
  return fetch(`${hub.url}/certificate`, {
    method: "POST",
    headers: { authorization: `DPoP ${who.accessToken}`, dpop, "content-type": "application/json" },
    body: JSON.stringify({ csr: await createCertificateSigningRequest({ keys: who.device.keys }) }),
  });
}

async function certificate(hub: TestHub, who: LoggedIn) {
  const res = await requestCertificate(hub, who);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { certificate: string; ca_certificates: string[]; expires_at: number };
  const sessionId = (await inspectCertificate(body.certificate)).sessionId;
  assert.ok(sessionId, "the certificate names its session");
  return { ...body, sessionId };
}

async function revocationList(hub: TestHub, appId: string): Promise<RevocationList> {
  const jwks = createRemoteJWKSet(new URL(`${hub.url}/jwks.json`));
  const res = await fetch(`${hub.url}/apps/${appId}/revocations`);
  return verifyRevocationList(await res.text(), jwks, { appId });
}

for (const engine of engines()) {
  describe(`session ends reach the revocation list on ${engine.name}`, () => {
    test("logout, admin revoke, refresh-token reuse and user disable each list the session", async () => {
      const hub = await startTestHub(engine, { demoApp: false });
      try {
        const app = await createApp(hub, { name: "mesh", providers: ["playground"] });
        const endings: Array<[string, (who: LoggedIn, sessionId: string) => Promise<void>]> = [
          [
            "logout (POST /revoke with the refresh token)",
            async (who) => {
              const res = await post(hub.url, "/revoke", { client_id: app.id, token: who.refreshToken });
              assert.equal(res.status, 200, JSON.stringify(res.body));
            },
          ],
          [
            "admin session revoke",
            async (_who, sessionId) => {
              const res = await hub.http.inject({
                method: "DELETE",
                url: `/admin/apps/${app.id}/sessions/${sessionId}`,
                headers: admin(hub),
              });
              assert.equal(res.statusCode, 204, res.body);
            },
          ],
          [
            "refresh-token reuse",
            async (who) => {
              const refresh = (token: string) =>
                post(
                  hub.url,
                  "/token",
                  { grant_type: "refresh_token", client_id: app.id, refresh_token: token },
                  who.device,
                );
              const next = await refresh(who.refreshToken);
              assert.equal(next.status, 200);
              // Its successor redeemed too, so the first token is no lost-answer retry: reuse.
              assert.equal((await refresh(String(next.body.refresh_token))).status, 200);
              const reused = await refresh(who.refreshToken);
              assert.equal(reused.body.meshauth_error, "session_revoked", JSON.stringify(reused.body));
            },
          ],
          [
            "user disable",
            async () => {
              const res = await hub.http.inject({
                method: "POST",
                url: `/admin/apps/${app.id}/users/playground/disable`,
                headers: admin(hub),
              });
              assert.equal(res.statusCode, 200, res.body);
            },
          ],
        ];
        for (const [how, end] of endings) {
          const who = await login(hub, app);
          const cert = await certificate(hub, who);
          const trust = { type: "ca" as const, certificatePem: cert.ca_certificates[0] as string };
          const before = await revocationList(hub, app.id);
          assert.ok(!before.entries.sessionIds.includes(cert.sessionId), how);
          await verifyPeerCertificate({
            chain: [cert.certificate],
            trust,
            appId: app.id,
            revocations: before,
          });

          await end(who, cert.sessionId);
          const list = await revocationList(hub, app.id);
          assert.ok(list.entries.sessionIds.includes(cert.sessionId), `${how}: the session is on the list`);
          assert.ok(list.version > before.version, how);
          await assert.rejects(
            verifyPeerCertificate({ chain: [cert.certificate], trust, appId: app.id, revocations: list }),
            (e: unknown) => e instanceof CertificateError && e.reason === "revoked",
            `${how}: peers refuse its certificate`,
          );
        }
      } finally {
        await hub.close();
      }
    });

    test("a session that never had a certificate does not grow the list, and an ended one gets none", async () => {
      const hub = await startTestHub(engine, { demoApp: false });
      try {
        const app = await createApp(hub, { name: "web", providers: ["playground"] });
        const who = await login(hub, app);
        await post(hub.url, "/revoke", { client_id: app.id, token: who.refreshToken });
        const list = await revocationList(hub, app.id);
        assert.deepEqual(list.entries.sessionIds, []);
        assert.equal(list.version, 0);
        // Its access token still verifies for a few minutes, but the session is over.
        const res = await requestCertificate(hub, who);
        assert.equal(res.status, 401);
        const body = (await res.json()) as Record<string, unknown>;
        assert.match(String(body.error_description), /session .*access token has ended/);
      } finally {
        await hub.close();
      }
    });

    test("certificates last the app's certificateTtl (a week by default), never past the session", async () => {
      const hub = await startTestHub(engine, { demoApp: false });
      try {
        const week = await createApp(hub, { name: "week", providers: ["playground"] });
        const shown = await hub.http.inject({ url: `/admin/apps/${week.id}`, headers: admin(hub) });
        assert.equal(shown.json().certificateTtl, 7 * 86_400);
        const now = Math.floor(Date.now() / 1000);
        const weekCert = await certificate(hub, await login(hub, week));
        assert.ok(Math.abs(weekCert.expires_at - (now + 7 * 86_400)) < 60, String(weekCert.expires_at - now));
        const described = await inspectCertificate(weekCert.certificate);
        assert.equal(described.notAfter.getTime() / 1000, weekCert.expires_at);
        assert.equal(described.identity?.exp, weekCert.expires_at);

        const short = await createApp(hub, { name: "short", providers: ["playground"], certificateTtl: 600 });
        const shortCert = await certificate(hub, await login(hub, short));
        assert.ok(Math.abs(shortCert.expires_at - (now + 600)) < 60);

        const sessionBound = await createApp(hub, {
          name: "brief-sessions",
          providers: ["playground"],
          sessionAbsoluteTtl: 900,
          sessionIdleTtl: 900,
        });
        const bound = await certificate(hub, await login(hub, sessionBound));
        assert.ok(Math.abs(bound.expires_at - (now + 900)) < 60, "the session's end comes first");

        for (const bad of [0, 60, 91 * 86_400, "1d"]) {
          const res = await hub.http.inject({
            method: "PATCH",
            url: `/admin/apps/${week.id}`,
            headers: admin(hub),
            payload: { certificateTtl: bad },
          });
          assert.equal(res.statusCode, 400, String(bad));
          assert.match(
            res.json().error_description,
            /^certificateTtl: expected an integer from 300 to 7776000/,
          );
        }
      } finally {
        await hub.close();
      }
    });
  });
}
