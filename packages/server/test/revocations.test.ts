import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import {
  CertificateError,
  createCertificateSigningRequest,
  createDpopProof,
  generateDeviceKey,
  jwkThumbprint,
  mergeRevocationLists,
  verifyPeerCertificate,
  verifyRevocationList,
} from "@meshauth/core";
import { createRemoteJWKSet } from "jose";
import type { TestDevice } from "./helpers/client.js";
import { post } from "./helpers/client.js";
import { cleanup, engines } from "./helpers/engines.js";
import { admin, createApp, startTestHub } from "./helpers/hub.js";

after(cleanup);

for (const engine of engines()) {
  describe(`revocation list on ${engine.name}`, () => {
    test("revoking a device ends its sessions and reaches peers through the signed list", async () => {
      const hub = await startTestHub(engine, { demoApp: false });
      try {
        const app = await createApp(hub, { name: "mesh", providers: ["playground"] });
        const doc = (await hub.http.inject("/.well-known/oauth-authorization-server")).json();
        assert.equal(doc.revocations_uri, `${hub.url}/apps/{client_id}/revocations`);

        // A device logs in with the playground token and gets a certificate for its own key.
        const keys = await generateDeviceKey();
        const device: TestDevice = { keys, jkt: await jwkThumbprint(keys.publicKey) };
        const login = await post(
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
        assert.equal(login.status, 200, JSON.stringify(login.body));
        const accessToken = String(login.body.access_token);
        const dpop = await createDpopProof({
          privateKey: keys.privateKey,
          publicKey: keys.publicKey,
          htm: "POST",
          htu: `${hub.url}/certificate`,
          accessToken,
        });
        const cert = (await (
          await fetch(`${hub.url}/certificate`, {
            method: "POST",
            headers: { authorization: `DPoP ${accessToken}`, dpop, "content-type": "application/json" },
            body: JSON.stringify({ csr: await createCertificateSigningRequest({ keys }) }),
          })
        ).json()) as { certificate: string; ca_certificates: string[] };

        const jwks = createRemoteJWKSet(new URL(`${hub.url}/jwks.json`));
        const fetchList = async () => {
          const res = await fetch(`${hub.url}/apps/${app.id}/revocations`);
          assert.equal(res.headers.get("content-type"), "application/jwt");
          return verifyRevocationList(await res.text(), jwks, { appId: app.id });
        };
        const before = await fetchList();
        assert.equal(before.version, 0);
        const trust = { type: "ca" as const, certificatePem: cert.ca_certificates[0] as string };
        await verifyPeerCertificate({ chain: [cert.certificate], trust, appId: app.id, revocations: before });

        const revoked = await hub.http.inject({
          method: "POST",
          url: `/admin/apps/${app.id}/revocations`,
          headers: admin(hub),
          payload: { kind: "device", value: device.jkt },
        });
        assert.equal(revoked.statusCode, 201, revoked.body);
        const list = await fetchList();
        // The device entry and the sessions it ended each change the list.
        assert.ok(list.version > before.version, `version ${list.version} after ${before.version}`);
        assert.deepEqual(list.entries.peerKeys, [device.jkt]);
        await assert.rejects(
          verifyPeerCertificate({ chain: [cert.certificate], trust, appId: app.id, revocations: list }),
          (e: unknown) => e instanceof CertificateError && e.reason === "revoked",
        );
        assert.equal(
          mergeRevocationLists(list, before).version,
          list.version,
          "a peer never goes back to an older list",
        );

        const refresh = await post(
          hub.url,
          "/token",
          { grant_type: "refresh_token", client_id: app.id, refresh_token: String(login.body.refresh_token) },
          device,
        );
        assert.equal(
          refresh.body.meshauth_error,
          "session_revoked",
          "the device's session ended on the hub at once",
        );

        await assert.rejects(
          verifyRevocationList(await (await fetch(`${hub.url}/apps/${app.id}/revocations`)).text(), jwks, {
            appId: "another-app",
          }),
        );
        const bad = await hub.http.inject({
          method: "POST",
          url: `/admin/apps/${app.id}/revocations`,
          headers: admin(hub),
          payload: { kind: "planet", value: "x" },
        });
        assert.equal(bad.statusCode, 400);
        assert.match(bad.json().error_description, /^kind: expected one of user, device, session, serial/);
        assert.equal((await hub.http.inject(`/apps/nope/revocations`)).statusCode, 404);
      } finally {
        await hub.close();
      }
    });
  });
}
