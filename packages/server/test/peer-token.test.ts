import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { createPeerProof, generateDpopKeyPair, verifyPeerToken, verifyRevocationList } from "@meshauth/core";
import { newDevice, post, type TestDevice } from "./helpers/client.js";
import { cleanup, engines } from "./helpers/engines.js";
import { admin, createApp, startTestHub } from "./helpers/hub.js";

after(cleanup);

const [sqlite] = engines();

describe("peers without client certificates: access token plus a proof over the channel nonce", () => {
  test("accepted offline for the right key, connection and app; refused otherwise", async () => {
    const hub = await startTestHub(sqlite!, { demoApp: false });
    try {
      const app = await createApp(hub, { name: "p2p", providers: ["playground"] });
      const other = await createApp(hub, { name: "elsewhere", providers: ["playground"] });
      const login = async (device: TestDevice, target: { id: string; playgroundToken?: string }) =>
        String(
          (
            await post(
              hub.url,
              "/token",
              {
                grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
                client_id: target.id,
                provider: "playground",
                subject_token: String(target.playgroundToken),
                subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
              },
              device,
            )
          ).body.access_token,
        );
      const device = await newDevice();
      const accessToken = await login(device, app);
      // What a peer caches while online, then uses with no hub in reach.
      const keys = (await hub.http.inject("/jwks.json")).json();
      const channelNonce = "nonce-of-this-connection";
      const proof = await createPeerProof({
        privateKey: device.keys.privateKey,
        publicKey: device.keys.publicKey,
        channelNonce,
        accessToken,
      });

      const identity = await verifyPeerToken({
        accessToken,
        proof,
        channelNonce,
        keys,
        appId: app.id,
        issuer: hub.url,
      });
      assert.equal(identity.peerKey, device.jkt);
      assert.equal(identity.provider, "playground");
      assert.equal(identity.permissions.write.everything, true);

      const refused = async (o: Partial<Parameters<typeof verifyPeerToken>[0]>, reason: string) =>
        assert.rejects(
          verifyPeerToken({ accessToken, proof, channelNonce, keys, appId: app.id, ...o }),
          (e: { code?: string; details?: { reason?: string } }) =>
            e.code === "invalid_token" && e.details?.reason === reason,
          reason,
        );

      await refused({ channelNonce: "another-connection" }, "proof");
      await refused({ appId: other.id }, "token");
      await refused({ now: Math.floor(Date.now() / 1000) + 7200 }, "token");
      const thief = await generateDpopKeyPair();
      await refused(
        {
          proof: await createPeerProof({
            privateKey: thief.privateKey,
            publicKey: thief.publicKey,
            channelNonce,
            accessToken,
          }),
        },
        "proof",
      );
      const otherToken = await login(await newDevice(), app);
      // Another device's token with this device's proof: the key does not match the token.
      await refused({ accessToken: otherToken }, "proof");
      const foreignKeys = { keys: [] };
      await refused({ keys: foreignKeys }, "token");

      const revoke = await hub.http.inject({
        method: "POST",
        url: `/admin/apps/${app.id}/revocations`,
        headers: admin(hub),
        payload: { kind: "device", value: device.jkt },
      });
      assert.equal(revoke.statusCode, 201);
      const list = await verifyRevocationList(
        (await hub.http.inject(`/apps/${app.id}/revocations`)).body,
        keys,
        { appId: app.id },
      );
      await refused({ revocations: list }, "revoked");
    } finally {
      await hub.close();
    }
  });
});
