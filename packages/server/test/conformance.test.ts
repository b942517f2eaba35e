import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPES } from "@meshauth/core";
import type { Hub } from "../src/hub.js";
import { newDevice, post, type TestDevice } from "./helpers/client.js";
import { cleanup, engines } from "./helpers/engines.js";
import { admin, createApp, startTestHub } from "./helpers/hub.js";

after(cleanup);

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

for (const engine of engines()) {
  describe(`token endpoint conformance (RFC 6749, 8693, 9449) on ${engine.name}`, () => {
    let hub: Hub & { url: string };
    let app: { id: string; clientSecret: string; playgroundToken?: string };

    before(async () => {
      hub = await startTestHub(engine, { demoApp: false });
      app = await createApp(hub, { name: "conf", providers: ["playground", "client"] });
    });
    after(() => hub.close());

    const playground = (device: TestDevice, extra: Record<string, string> = {}, headers = {}) =>
      post(
        hub.url,
        "/token",
        {
          grant_type: TOKEN_EXCHANGE_GRANT,
          provider: "playground",
          subject_token: String(app.playgroundToken),
          subject_token_type: TOKEN_TYPES.accessToken,
          ...extra,
        },
        device,
        { headers },
      );

    async function session(device: TestDevice): Promise<string> {
      const res = await playground(device, { client_id: app.id });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return String(res.body.refresh_token);
    }

    test("a wrong client secret is invalid_client (401, WWW-Authenticate: Basic) on every grant, not ignored", async () => {
      const device = await newDevice();
      const refreshToken = await session(device);
      const wrong = `${app.clientSecret.split(".")[0]}.wrong`;
      const attempts = [
        await playground(device, { client_id: app.id, client_secret: wrong }),
        await playground(device, {}, { authorization: basic(app.id, wrong) }),
        await post(
          hub.url,
          "/token",
          {
            grant_type: "refresh_token",
            client_id: app.id,
            client_secret: wrong,
            refresh_token: refreshToken,
          },
          device,
        ),
        await post(hub.url, "/token", { grant_type: "refresh_token", refresh_token: refreshToken }, device, {
          headers: { authorization: basic(app.id, wrong) },
        }),
      ];
      for (const res of attempts) {
        assert.equal(res.status, 401, JSON.stringify(res.body));
        assert.equal(res.body.error, "invalid_client");
        assert.match(String(res.headers.get("www-authenticate")), /^Basic /);
      }
      const otp = await post(hub.url, "/otp", {
        client_id: app.id,
        client_secret: wrong,
        email: "a@example.com",
      });
      assert.equal(otp.body.error, "invalid_client");
    });

    test("client_secret_basic identifies the client: a refresh without client_id in the body works", async () => {
      const device = await newDevice();
      const refreshToken = await session(device);
      const res = await post(
        hub.url,
        "/token",
        { grant_type: "refresh_token", refresh_token: refreshToken },
        device,
        { headers: { authorization: basic(app.id, app.clientSecret) } },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal((res.body.identity as { appId: string }).appId, app.id);
    });

    test("an ended session is invalid_grant with meshauth's reason in meshauth_error", async () => {
      const device = await newDevice();
      const refreshToken = await session(device);
      const revoked = await post(hub.url, "/revoke", { client_id: app.id, token: refreshToken });
      assert.equal(revoked.status, 200);
      const res = await post(
        hub.url,
        "/token",
        { grant_type: "refresh_token", client_id: app.id, refresh_token: refreshToken },
        device,
      );
      assert.equal(res.status, 400);
      assert.equal(res.body.error, "invalid_grant");
      assert.equal(res.body.meshauth_error, "session_revoked");
    });

    test("RFC 8693: a refused subject_token is invalid_request (provider_rejected aside); subject_token_type is checked per provider", async () => {
      const device = await newDevice();
      const refused = await playground(device, { client_id: app.id, subject_token: "not-the-token" });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error, "invalid_request");
      assert.equal(refused.body.meshauth_error, "provider_rejected");
      for (const type of [TOKEN_TYPES.idToken, "urn:example:whatever"]) {
        const wrongType = await playground(device, { client_id: app.id, subject_token_type: type });
        assert.equal(wrongType.status, 400);
        assert.equal(wrongType.body.error, "invalid_request");
        assert.match(
          String(wrongType.body.error_description),
          /^subject_token_type: playground providers accept/,
        );
      }
    });

    test("discovery lists every registered grant", async () => {
      const meta = (await (await fetch(`${hub.url}/.well-known/oauth-authorization-server`)).json()) as {
        grant_types_supported: string[];
      };
      for (const g of hub.grants.types()) assert.ok(meta.grant_types_supported.includes(g), g);
      assert.ok(meta.grant_types_supported.includes(TOKEN_EXCHANGE_GRANT));
    });

    test("a user cannot take the subject of the app backend's own token (client:<appId>)", async () => {
      const res = await post(
        hub.url,
        "/token",
        { grant_type: "client_credentials", sub: `client:${app.id}`, dpop_jkt: (await newDevice()).jkt },
        undefined,
        { headers: { authorization: basic(app.id, app.clientSecret) } },
      );
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error, "invalid_request");
      assert.match(String(res.body.error_description), /reserved for app backends/);
      const users = await hub.http.inject({
        method: "GET",
        url: `/admin/apps/${app.id}/users`,
        headers: admin(hub),
      });
      assert.ok(!users.body.includes(`client:${app.id}`), "no such user was created");
    });
  });
}
