// An existing Ditto auth webhook, unchanged, behind a real hub: it verifies the hub's
// requests with the reference Standard Webhooks library and with `ditto-signature` as Ditto
// documents it (HMAC keyed with the base64-decoded secret), and answers in Ditto's shapes.
import assert from "node:assert/strict";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { after, before, describe, test } from "node:test";
import { createCertificateSigningRequest, createDpopProof, inspectCertificate } from "@meshauth/core";
import { decodeJwt } from "jose";
import { Webhook } from "standardwebhooks";
import { signWebhookRequest } from "../src/providers/webhook.js";
import { newDevice, post } from "./helpers/client.js";
import { cleanup, engines } from "./helpers/engines.js";
import { admin, createApp, startTestHub } from "./helpers/hub.js";

after(cleanup);

/** Ditto's documented check: `t=<ts>,v1=<hex>` over "<ts>.<raw body>", key = base64-decoded secret. */
function dittoSignatureValid(header: string | undefined, body: string, secret: string): boolean {
  if (!header) return false;
  const parts = Object.fromEntries(header.split(",").map((p) => p.split("=", 2) as [string, string]));
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
  const expected = Buffer.from(createHmac("sha256", key).update(`${parts.t}.${body}`).digest("hex"));
  const got = Buffer.from(String(parts.v1));
  return got.length === expected.length && timingSafeEqual(got, expected);
}

const RULES = {
  remoteQuery: false,
  read: {
    everything: false,
    queriesByCollection: {
      cars: ["starts_with(_id.owner, 'ada')", "_id.fleet == 'blue'"],
    },
  },
  write: { everything: false, queriesByCollection: { cars: ["_id.owner == 'ada'"] } },
};

/** What the webhook answers per token, in Ditto's shapes (current and legacy spellings). */
const ANSWERS: Record<string, { status: number; body: unknown }> = {
  ada: {
    status: 200,
    body: {
      authenticated: true,
      userID: "ada",
      expirationSeconds: 3600,
      permissions: RULES,
      clientInfo: { plan: "gold", email: "ada@example.com" },
      identityServiceMetadata: { team: "blue", role: "driver" },
    },
  },
  legacy: {
    status: 200,
    body: {
      authenticate: true,
      userID: "bob",
      expirationSeconds: 600,
      permissions: RULES,
      userInfo: { plan: "silver" },
    },
  },
  locked: {
    status: 401,
    body: {
      authenticate: false,
      clientInfo: `Account\u0007 locked\n\n until\u202e tomorrow ${"x".repeat(400)}`,
    },
  },
  anonymous: {
    status: 200,
    body: { authenticated: true, expirationSeconds: 60, permissions: RULES },
  },
  zero: {
    status: 200,
    body: { authenticated: true, userID: "z", expirationSeconds: 0, permissions: RULES },
  },
  huge: {
    status: 200,
    body: {
      authenticated: true,
      userID: "h",
      expirationSeconds: 60,
      permissions: RULES,
      clientInfo: { blob: "y".repeat(5000) },
    },
  },
};

for (const engine of engines()) {
  describe(`a Ditto auth webhook behind the hub on ${engine.name}`, () => {
    let hub: Awaited<ReturnType<typeof startTestHub>>;
    let webhookUrl = "";
    let secret = "";
    const verified: string[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const reply = (status: number, value: unknown) => {
          res.writeHead(status, { "content-type": "application/json" });
          res.end(JSON.stringify(value));
        };
        try {
          new Webhook(secret).verify(body, req.headers as Record<string, string>);
        } catch (error) {
          return reply(400, { error: `standardwebhooks: ${(error as Error).message}` });
        }
        if (!dittoSignatureValid(req.headers["ditto-signature"] as string | undefined, body, secret))
          return reply(400, { error: "bad ditto-signature" });
        const { token } = JSON.parse(body) as { token: string };
        verified.push(token);
        const answer = ANSWERS[token] ?? { status: 401, body: { authenticate: false } };
        reply(answer.status, answer.body);
      });
    });

    before(async () => {
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      webhookUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/auth`;
      hub = await startTestHub(engine, { demoApp: false });
    });
    after(async () => {
      await hub.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    });

    async function appWithWebhook(name: string, extra: Record<string, unknown> = {}) {
      const app = await createApp(hub, { name, providers: ["webhook"], ...extra });
      const res = await hub.http.inject({
        method: "POST",
        url: `/admin/apps/${app.id}/webhooks`,
        headers: admin(hub),
        payload: { name: "ditto", url: webhookUrl },
      });
      assert.equal(res.statusCode, 201, res.body);
      const created = res.json() as { signingSecret: string; webhook: { dittoSignatureKey: string } };
      assert.equal(created.webhook.dittoSignatureKey, "base64");
      secret = created.signingSecret;
      return app;
    }

    const login = async (appId: string, token: string) => {
      const device = await newDevice();
      const res = await post(
        hub.url,
        "/token",
        {
          grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
          client_id: appId,
          provider: "webhook:ditto",
          subject_token: token,
          subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
        },
        device,
      );
      return { res, device };
    };

    test("generated secrets are whsec_ + standard base64, which the reference library reads", async () => {
      const app = await createApp(hub, { name: "secrets", providers: ["webhook"] });
      for (let i = 0; i < 40; i++) {
        const res = await hub.http.inject({
          method: "POST",
          url: `/admin/apps/${app.id}/webhooks`,
          headers: admin(hub),
          payload: { name: `hook${i}`, url: webhookUrl },
        });
        const generated = String(res.json().signingSecret);
        assert.match(generated, /^whsec_[A-Za-z0-9+/]{43}=$/);
        const body = '{"token":"t"}';
        const headers = signWebhookRequest(
          generated,
          body,
          Math.floor(Date.now() / 1000),
          `msg_${i}`,
          "base64",
        );
        assert.doesNotThrow(() => new Webhook(generated).verify(body, headers), generated);
      }
    });

    test("login: Ditto's rules load unchanged, clientInfo only in the token response, metadata in the identity", async () => {
      const app = await appWithWebhook("cars");
      const { res, device } = await login(app.id, "ada");
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(verified.includes("ada"), "the webhook verified both signatures");
      assert.deepEqual(res.body.client_info, { plan: "gold", email: "ada@example.com" });
      const identity = res.body.identity as Record<string, unknown>;
      assert.equal(identity.userInfo, undefined, "clientInfo is not shared by default");
      assert.deepEqual(identity.metadata, { team: "blue", role: "driver" });
      assert.deepEqual(identity.permissions, RULES, "remoteQuery and Ditto's function spellings kept");
      const claims = decodeJwt(String(res.body.access_token));
      assert.equal(claims.user_info, undefined, "access tokens (sent to every API) do not carry clientInfo");
      assert.deepEqual(claims.identity_metadata, { team: "blue", role: "driver" });

      const accessToken = String(res.body.access_token);
      const dpop = await createDpopProof({
        privateKey: device.keys.privateKey,
        publicKey: device.keys.publicKey,
        htm: "POST",
        htu: `${hub.url}/certificate`,
        accessToken,
      });
      const cert = await fetch(`${hub.url}/certificate`, {
        method: "POST",
        headers: { authorization: `DPoP ${accessToken}`, dpop, "content-type": "application/json" },
        body: JSON.stringify({ csr: await createCertificateSigningRequest({ keys: device.keys }) }),
      });
      assert.equal(cert.status, 200);
      const described = await inspectCertificate(
        ((await cert.json()) as { certificate: string }).certificate,
      );
      assert.deepEqual(described.identity?.metadata, { team: "blue", role: "driver" });
      assert.equal(described.identity?.userInfo, undefined, "peers do not see clientInfo");
      assert.equal(described.identity?.permissions.remoteQuery, false);
    });

    test("an app that opts in shares clientInfo (legacy userInfo) as the identity's userInfo", async () => {
      const app = await appWithWebhook("shared", { shareClientInfo: true });
      const { res } = await login(app.id, "legacy");
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual((res.body.identity as Record<string, unknown>).userInfo, { plan: "silver" });
      assert.deepEqual(decodeJwt(String(res.body.access_token)).user_info, { plan: "silver" });
    });

    test("a refusal passes the webhook's reason on, sanitised and bounded", async () => {
      const app = await appWithWebhook("refusals");
      const { res } = await login(app.id, "locked");
      assert.equal(res.body.meshauth_error ?? res.body.error, "provider_rejected", JSON.stringify(res.body));
      const description = String(res.body.error_description);
      assert.match(description, /did not authenticate the token: Account locked until tomorrow x+…$/);
      assert.ok(!/[\p{Cc}\p{Cf}]/u.test(description), "no control or bidi characters");
      assert.ok(description.length < 300, String(description.length));
    });

    test("answers meshauth cannot take say why, naming Ditto's field", async () => {
      const app = await appWithWebhook("odd-answers");
      const cases: Array<[string, RegExp]> = [
        ["anonymous", /no `userID`; Ditto would treat the device as anonymous/],
        ["zero", /`expirationSeconds: 0`, which would end the session at once/],
        ["huge", /`clientInfo` larger than 4096 characters of JSON/],
      ];
      for (const [token, message] of cases) {
        const { res } = await login(app.id, token);
        assert.equal(
          res.body.meshauth_error ?? res.body.error,
          "provider_unavailable",
          JSON.stringify(res.body),
        );
        assert.match(String(res.body.error_description), message, token);
      }
    });
  });
}
