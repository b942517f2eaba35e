import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  createCertificateSigningRequest,
  createDpopProof,
  generateDeviceKey,
  jwkThumbprint,
  verifyPeerCertificate,
} from "@meshauth/core";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { Hub } from "../src/hub.js";
import { newDevice, post, type TestDevice } from "./helpers/client.js";
import { cleanup, engines, tempDir } from "./helpers/engines.js";
import { admin, createApp, startTestHub } from "./helpers/hub.js";

after(cleanup);

const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
/** What each provider kind accepts as subject_token_type. */
const typeFor = (provider: string) =>
  provider.startsWith("oidc:") ? "urn:ietf:params:oauth:token-type:id_token" : TOKEN_TYPE;

/** A Ditto-style auth webhook that checks the hub's ditto-signature before answering. */
async function startWebhook(
  secret: string,
): Promise<{ url: string; server: Server; seen: Record<string, unknown>[] }> {
  const seen: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const sig = String(req.headers["ditto-signature"] ?? "");
      const t = /t=(\d+)/.exec(sig)?.[1] ?? "";
      const v1 = /v1=([0-9a-f]+)/.exec(sig)?.[1] ?? "";
      const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
      res.setHeader("content-type", "application/json");
      if (v1 !== expected) {
        res.statusCode = 401;
        return res.end(JSON.stringify({ authenticate: false, reason: "bad signature" }));
      }
      const request = JSON.parse(body) as { token: string };
      seen.push(request);
      if (request.token === "customer-token") {
        return res.end(
          JSON.stringify({
            authenticate: true,
            userID: "customer-1",
            expirationSeconds: 3600,
            permissions: {
              read: { everything: false, queriesByCollection: { orders: ["_id.userID == 'customer-1'"] } },
              write: { everything: false, queriesByCollection: { orders: ["_id.userID == 'customer-1'"] } },
            },
            userInfo: { name: "Ada" },
          }),
        );
      }
      res.statusCode = 401;
      res.end(JSON.stringify({ authenticate: false }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/auth`, server, seen };
}

for (const engine of engines()) {
  describe(`token exchange and device certificates on ${engine.name}`, () => {
    let hub: Hub & { url: string };
    let app: { id: string; playgroundToken?: string; clientSecret: string };
    let other: { id: string; playgroundToken?: string };
    let hook: Awaited<ReturnType<typeof startWebhook>>;
    const secret = "s".repeat(40);

    before(async () => {
      hub = await startTestHub(engine, { demoApp: false });
      app = await createApp(hub, { name: "fleet", providers: ["playground", "webhook", "client"] });
      other = await createApp(hub, { name: "other", providers: ["playground"] });
      hook = await startWebhook(secret);
      const added = await hub.http.inject({
        method: "POST",
        url: `/admin/apps/${app.id}/webhooks`,
        headers: admin(hub),
        // This webhook HMACs with the secret text itself (the pre-base64 Ditto behaviour).
        payload: { name: "auth", url: hook.url, secret, dittoSignatureKey: "utf8" },
      });
      assert.equal(added.statusCode, 201, added.body);
    });
    after(async () => {
      await hub.close();
      await new Promise((r) => hook.server.close(r));
    });

    const exchange = (device: TestDevice, appId: string, provider: string, token: string) =>
      post(
        hub.url,
        "/token",
        {
          grant_type: EXCHANGE,
          client_id: appId,
          provider,
          subject_token: token,
          subject_token_type: typeFor(provider),
        },
        device,
      );

    test("playground: the app's token gives full access; another app's token, a rotated token and no nonce do not", async () => {
      const device = await newDevice();
      const noNonce = await post(
        hub.url,
        "/token",
        {
          grant_type: EXCHANGE,
          client_id: app.id,
          provider: "playground",
          subject_token: String(app.playgroundToken),
          subject_token_type: TOKEN_TYPE,
        },
        device,
        { noRetry: true },
      );
      assert.equal(noNonce.status, 400);
      assert.equal(noNonce.body.error, "use_dpop_nonce");
      assert.ok(noNonce.headers.get("dpop-nonce"));

      const ok = await exchange(device, app.id, "playground", String(app.playgroundToken));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual((ok.body.identity as { permissions: unknown }).permissions, {
        read: { everything: true, queriesByCollection: {} },
        write: { everything: true, queriesByCollection: {} },
      });
      assert.equal(ok.body.issued_token_type, "urn:ietf:params:oauth:token-type:access_token");

      const foreign = await exchange(device, app.id, "playground", String(other.playgroundToken));
      assert.equal(foreign.status, 400);
      assert.equal(foreign.body.error, "invalid_request", "RFC 8693 §2.2.2");
      assert.equal(foreign.body.meshauth_error, "provider_rejected");

      const rotated = (
        await hub.http.inject({
          method: "POST",
          url: `/admin/apps/${other.id}/playground-token`,
          headers: admin(hub),
        })
      ).json();
      assert.equal(
        (await exchange(device, other.id, "playground", String(other.playgroundToken))).body.meshauth_error,
        "provider_rejected",
      );
      assert.equal((await exchange(device, other.id, "playground", rotated.playgroundToken)).status, 200);
    });

    test("webhook: the webhook says who the user is and what they may do", async () => {
      const device = await newDevice();
      const ok = await exchange(device, app.id, "webhook:auth", "customer-token");
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const identity = ok.body.identity as { userId: string; provider: string; exp: number };
      assert.equal(identity.userId, "customer-1");
      assert.equal(identity.provider, "webhook:auth");
      assert.ok(
        identity.exp <= Math.floor(Date.now() / 1000) + 3601,
        "the webhook's expirationSeconds bounds the session",
      );
      assert.deepEqual(ok.body.client_info, { name: "Ada" });
      assert.equal(hook.seen.at(-1)?.peerKey, device.jkt);
      assert.equal(hook.seen.at(-1)?.appID, app.id);

      const rejected = await exchange(device, app.id, "webhook:auth", "stranger");
      assert.equal(rejected.body.error, "invalid_request");
      assert.equal(rejected.body.meshauth_error, "provider_rejected");
      const missing = await exchange(device, app.id, "webhook:nope", "customer-token");
      assert.equal(missing.body.error, "invalid_request");
      const disabled = await exchange(device, other.id, "webhook:auth", "customer-token");
      assert.equal(disabled.body.error, "provider_disabled");
    });

    test("OIDC: the IdP's ID token logs the user in with permissions mapped from a claim, no webhook", async () => {
      const { publicKey, privateKey } = await generateKeyPair("ES256");
      const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
      const idp = createServer((_req, res) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((r) => idp.listen(0, "127.0.0.1", r));
      const issuer = `http://127.0.0.1:${(idp.address() as { port: number }).port}`;
      try {
        const oidcApp = await createApp(hub, { name: "sso", providers: ["oidc"] });
        const added = await hub.http.inject({
          method: "POST",
          url: `/admin/apps/${oidcApp.id}/oidc-providers`,
          headers: admin(hub),
          payload: {
            name: "corp",
            issuer,
            audience: "mesh-app",
            jwksUri: `${issuer}/jwks.json`,
            mapping: {
              userInfoClaims: ["email"],
              permissionsClaim: "role",
              permissionsByClaimValue: {
                manager: {
                  read: { everything: true, queriesByCollection: {} },
                  write: { everything: true, queriesByCollection: {} },
                },
              },
            },
          },
        });
        assert.equal(added.statusCode, 201, added.body);
        const idToken = (claims: Record<string, unknown>, aud = "mesh-app") =>
          new SignJWT(claims)
            .setProtectedHeader({ alg: "ES256", kid: "k1" })
            .setIssuer(issuer)
            .setAudience(aud)
            .setSubject("emp-7")
            .setIssuedAt()
            .setExpirationTime("5m")
            .sign(privateKey);
        const device = await newDevice();
        const ok = await exchange(
          device,
          oidcApp.id,
          "oidc:corp",
          await idToken({ role: "manager", email: "e7@corp.example" }),
        );
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        const identity = ok.body.identity as {
          userId: string;
          provider: string;
          permissions: { write: { everything: boolean } };
          userInfo: Record<string, unknown>;
        };
        assert.equal(identity.userId, "emp-7");
        assert.equal(identity.provider, "oidc:corp");
        assert.equal(identity.permissions.write.everything, true);
        assert.deepEqual(identity.userInfo, { email: "e7@corp.example" });
        const plain = await exchange(device, oidcApp.id, "oidc:corp", await idToken({ role: "intern" }));
        assert.equal(
          (plain.body.identity as { permissions: { write: { everything: boolean } } }).permissions.write
            .everything,
          false,
          "no rule: default permissions",
        );
        const wrongAud = await exchange(
          device,
          oidcApp.id,
          "oidc:corp",
          await idToken({ role: "manager" }, "someone-else"),
        );
        assert.equal(wrongAud.body.meshauth_error, "provider_rejected");
      } finally {
        await new Promise((r) => idp.close(r));
      }
    });

    async function login(): Promise<{ device: TestDevice; accessToken: string }> {
      const device = await newDevice();
      const res = await exchange(device, app.id, "webhook:auth", "customer-token");
      return { device, accessToken: String(res.body.access_token) };
    }

    async function requestCertificate(device: TestDevice, accessToken: string, body: unknown) {
      const dpop = await createDpopProof({
        privateKey: device.keys.privateKey,
        publicKey: device.keys.publicKey,
        htm: "POST",
        htu: `${hub.url}/certificate`,
        accessToken,
      });
      const res = await fetch(`${hub.url}/certificate`, {
        method: "POST",
        headers: { authorization: `DPoP ${accessToken}`, dpop, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return {
        status: res.status,
        body: (await res.json()) as Record<string, unknown>,
        headers: res.headers,
      };
    }

    test("device certificates: CSR for the token's key, or a hub-made key; OpenSSL verifies them against the app's CA only", async () => {
      // The device key of the certificate is the DPoP key (extractable here so the test can build a CSR).
      const keys = await generateDeviceKey();
      const device: TestDevice = { keys, jkt: await jwkThumbprint(keys.publicKey) };
      const token = String(
        (await exchange(device, app.id, "webhook:auth", "customer-token")).body.access_token,
      );
      const csr = await createCertificateSigningRequest({ keys });
      const issued = await requestCertificate(device, token, { csr });
      assert.equal(issued.status, 200, JSON.stringify(issued.body));
      const dir = tempDir();
      writeFileSync(join(dir, "ca.pem"), (issued.body.ca_certificates as string[])[0] as string);
      writeFileSync(join(dir, "device.pem"), String(issued.body.certificate));
      assert.match(
        execFileSync("openssl", [
          "verify",
          "-CAfile",
          join(dir, "ca.pem"),
          join(dir, "device.pem"),
        ]).toString(),
        /OK/,
      );
      writeFileSync(join(dir, "other-ca.pem"), (await hub.http.inject(`/apps/${other.id}/ca.pem`)).body);
      assert.throws(() =>
        execFileSync("openssl", ["verify", "-CAfile", join(dir, "other-ca.pem"), join(dir, "device.pem")], {
          stdio: "pipe",
        }),
      );

      const peer = await verifyPeerCertificate({
        chain: [String(issued.body.certificate)],
        trust: { type: "ca", certificatePem: (issued.body.ca_certificates as string[])[0] as string },
        appId: app.id,
      });
      assert.equal(peer.identity.userId, "customer-1");
      assert.deepEqual(peer.identity.permissions.read.queriesByCollection, {
        orders: ["_id.userID == 'customer-1'"],
      });

      const generated = await requestCertificate(device, token, { generate_key: true });
      assert.equal(generated.status, 200);
      assert.match(String(generated.body.private_key), /BEGIN PRIVATE KEY/);
      assert.notEqual(generated.body.serial_number, issued.body.serial_number);
    });

    test("certificate attacks: a CSR for another key, a proof by another key, a revoked session", async () => {
      const { device, accessToken } = await login();
      const stranger = await generateDeviceKey();
      const wrongKey = await requestCertificate(device, accessToken, {
        csr: await createCertificateSigningRequest({ keys: stranger }),
      });
      assert.equal(wrongKey.status, 400);
      assert.match(String(wrongKey.body.error_description), /not the key the access token is bound to/);

      const thief = await newDevice();
      const stolen = await requestCertificate(thief, accessToken, { generate_key: true });
      // RFC 9449 §7.1: a resource request with a bad proof is a 401 challenge.
      assert.equal(stolen.status, 401);
      assert.equal(stolen.body.error, "invalid_dpop_proof");
      assert.match(String(stolen.headers.get("www-authenticate")), /^DPoP error="invalid_dpop_proof"/);

      const noToken = await fetch(`${hub.url}/certificate`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      assert.equal(noToken.status, 401);

      const sid = (
        JSON.parse(Buffer.from(accessToken.split(".")[1] as string, "base64url").toString()) as {
          sid: string;
        }
      ).sid;
      await hub.http.inject({
        method: "DELETE",
        url: `/admin/apps/${app.id}/sessions/${sid}`,
        headers: admin(hub),
      });
      const afterRevoke = await requestCertificate(device, accessToken, { generate_key: true });
      assert.equal(afterRevoke.status, 401);
      assert.equal(afterRevoke.body.error, "invalid_token");
    });
  });
}
