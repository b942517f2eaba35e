import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { after, describe, test } from "node:test";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { createHub } from "../src/hub.js";
import { cleanup, engines, testConfig } from "./helpers/engines.js";
import { admin, startTestHub } from "./helpers/hub.js";

after(cleanup);

for (const engine of engines()) {
  describe(`hub on ${engine.name}`, () => {
    test("health, readiness and discovery", async () => {
      const hub = await startTestHub(engine);
      try {
        assert.deepEqual((await hub.http.inject("/health")).json(), { status: "ok" });
        assert.deepEqual((await hub.http.inject("/ready")).json(), { status: "ready" });
        const doc = (await hub.http.inject("/.well-known/oauth-authorization-server")).json();
        assert.equal(doc.issuer, hub.config.issuer);
        assert.equal(doc.jwks_uri, `${hub.config.issuer}/jwks.json`);
        assert.equal(doc.ca_uri, `${hub.config.issuer}/apps/{client_id}/ca.pem`);
      } finally {
        await hub.close();
      }
    });

    test("first start creates the demo app once; a restart keeps apps, keys and the admin token", async () => {
      const config = await testConfig(engine);
      const first = await createHub(config);
      const demo = first.report.demoApp;
      assert.ok(demo, "the demo app is created on first start");
      assert.equal(demo.app.name, "demo");
      assert.match(demo.playgroundToken ?? "", /^mp_[A-Za-z0-9_-]{43}$/);
      assert.match(first.report.generatedAdminToken ?? "", /^ma_/);
      const jwks1 = (await first.http.inject("/jwks.json")).json();
      const token = first.adminToken;
      await first.close();

      const second = await createHub(config);
      try {
        assert.equal(second.report.demoApp, undefined);
        assert.equal(second.report.generatedAdminToken, undefined);
        assert.equal(second.report.createdSigningKey, false);
        assert.equal(second.adminToken, token);
        assert.deepEqual((await second.http.inject("/jwks.json")).json(), jwks1);
        const apps = (await second.http.inject({ url: "/admin/apps", headers: admin(second) })).json().apps;
        assert.deepEqual(
          apps.map((a: { name: string }) => a.name),
          ["demo"],
        );
      } finally {
        await second.close();
      }
    });

    test("a token signed with the active key verifies against /jwks.json with a remote JWKS client, across rotation", async () => {
      const hub = await startTestHub(engine);
      try {
        const jwks = createRemoteJWKSet(new URL(`${hub.url}/jwks.json`), {
          cacheMaxAge: 0,
          cooldownDuration: 0,
        });
        const before = await hub.keys.sign(
          { sub: "u1", iss: hub.config.issuer, exp: hub.now() + 600 },
          "at+jwt",
        );
        const verified = await jwtVerify(before, jwks, {
          issuer: hub.config.issuer,
          typ: "at+jwt",
          algorithms: ["ES256"],
        });
        assert.equal(verified.payload.sub, "u1");

        const rotated = await hub.keys.rotate({ immediate: true });
        assert.notEqual(rotated.kid, decodeProtectedHeader(before).kid);
        assert.deepEqual(rotated.retired, [decodeProtectedHeader(before).kid]);
        const afterToken = await hub.keys.sign({ sub: "u2", exp: hub.now() + 600 }, "at+jwt");
        assert.equal(decodeProtectedHeader(afterToken).kid, rotated.kid);

        const fresh = createRemoteJWKSet(new URL(`${hub.url}/jwks.json`));
        assert.equal(
          (await jwtVerify(before, fresh)).payload.sub,
          "u1",
          "a token of the retired key still verifies",
        );
        assert.equal((await jwtVerify(afterToken, fresh)).payload.sub, "u2");
        const keys = (await hub.http.inject("/jwks.json")).json().keys;
        assert.equal(keys.length, 2);
        for (const k of keys) assert.equal(k.d, undefined, "no private member is published");
      } finally {
        await hub.close();
      }
    });

    test("a retired key leaves the JWKS once every token it signed has expired", async () => {
      const config = await testConfig(engine);
      const hub = await createHub(config);
      const oldKid = (await hub.keys.list())[0]?.kid;
      await hub.keys.rotate({ immediate: true });
      await hub.close();
      // A day and a bit later (the longest an access token may live, plus skew).
      const later = await createHub({ ...config, clockOffsetSeconds: 86_400 + 301 });
      try {
        const kids = (await later.http.inject("/jwks.json")).json().keys.map((k: { kid: string }) => k.kid);
        assert.equal(kids.length, 1);
        assert.ok(!kids.includes(oldKid));
        const list = await later.keys.list();
        assert.equal(list.find((k) => k.kid === oldKid)?.status, "retired");
      } finally {
        await later.close();
      }
    });

    test("EdDSA signing keys when selected", async () => {
      const hub = await startTestHub(engine, { signingAlg: "EdDSA" });
      try {
        const [key] = (await hub.http.inject("/jwks.json")).json().keys;
        assert.equal(key.alg, "EdDSA");
        assert.equal(key.crv, "Ed25519");
        const token = await hub.keys.sign({ sub: "u" }, "at+jwt");
        const jwks = createRemoteJWKSet(new URL(`${hub.url}/jwks.json`));
        assert.equal((await jwtVerify(token, jwks, { algorithms: ["EdDSA"] })).payload.sub, "u");
      } finally {
        await hub.close();
      }
    });

    test("each app has its own CA, served as PEM", async () => {
      const hub = await startTestHub(engine);
      try {
        const other = (
          await hub.http.inject({
            method: "POST",
            url: "/admin/apps",
            headers: admin(hub),
            payload: { name: "other" },
          })
        ).json();
        const demoId = hub.report.demoApp?.app.id as string;
        const res1 = await hub.http.inject(`/apps/${demoId}/ca.pem`);
        const res2 = await hub.http.inject(`/apps/${other.app.id}/ca.pem`);
        assert.equal(res1.statusCode, 200);
        assert.match(res1.headers["content-type"] as string, /application\/x-pem-file/);
        const ca1 = new X509Certificate(res1.body);
        const ca2 = new X509Certificate(res2.body);
        assert.equal(ca1.ca, true);
        assert.ok(ca1.checkIssued(ca1), "self-signed");
        assert.ok(!ca2.checkIssued(ca1) && !ca1.checkIssued(ca2), "one app's CA did not issue the other's");
        assert.notEqual(ca1.fingerprint256, ca2.fingerprint256);
        assert.match(ca1.subject, new RegExp(demoId));
        assert.equal(
          (ca1.publicKey.asymmetricKeyDetails as { namedCurve?: string }).namedCurve,
          "prime256v1",
        );
        const missing = await hub.http.inject("/apps/no-such-app/ca.pem");
        assert.equal(missing.statusCode, 404);
        assert.equal(missing.json().error, "not_found");
      } finally {
        await hub.close();
      }
    });
  });
}
