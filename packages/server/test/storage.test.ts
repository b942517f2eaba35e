import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { NO_ACCESS } from "@meshauth/core";
import { migrate, openDatabase } from "../src/storage/database.js";
import { type NewApp, Store, UniqueViolation } from "../src/storage/store.js";
import { cleanup, engines } from "./helpers/engines.js";

after(cleanup);

function newApp(id: string, name: string): NewApp {
  return {
    id,
    name,
    providers: ["otp"],
    accessTokenTtl: 900,
    sessionAbsoluteTtl: 86_400 * 90,
    sessionIdleTtl: 86_400 * 30,
    certificateTtl: 7 * 86_400,
    shareClientInfo: false,
    corsOrigins: ["https://a.example"],
    email: { from: "A <a@example.com>" },
    defaultPermissions: NO_ACCESS,
    playgroundTokenHash: "h1",
  };
}

for (const engine of engines()) {
  describe(`storage on ${engine.name}`, () => {
    async function openStore(): Promise<Store> {
      const { db, engine: kind } = openDatabase(await engine.database());
      await migrate(db);
      return new Store(db, kind);
    }

    test("migrations apply once and are idempotent", async () => {
      const { db, engine: kind } = openDatabase(await engine.database());
      await migrate(db);
      await migrate(db);
      const store = new Store(db, kind);
      await store.ping();
      assert.deepEqual(await store.listApps(), []);
      await store.close();
    });

    test("apps: insert, find by id and name, update, list, delete", async () => {
      const store = await openStore();
      const app = await store.insertApp(newApp("a1", "one"), 100);
      assert.equal(app.hasPlaygroundToken, true);
      assert.deepEqual(app.email, { from: "A <a@example.com>" });
      assert.equal((await store.findApp("a1"))?.name, "one");
      assert.equal((await store.findAppByName("one"))?.id, "a1");
      assert.equal(await store.findApp("nope"), undefined);
      assert.equal(await store.playgroundTokenHash("a1"), "h1");

      const updated = await store.updateApp(
        "a1",
        { accessTokenTtl: 600, corsOrigins: [], playgroundTokenHash: null },
        200,
      );
      assert.equal(updated?.accessTokenTtl, 600);
      assert.deepEqual(updated?.corsOrigins, []);
      assert.equal(updated?.hasPlaygroundToken, false);
      assert.equal(updated?.updatedAt, 200);
      assert.equal(updated?.createdAt, 100);
      assert.equal(await store.updateApp("missing", { name: "x" }, 1), undefined);

      await store.insertApp(newApp("a2", "two"), 150);
      assert.deepEqual(
        (await store.listApps()).map((a) => a.id),
        ["a1", "a2"],
      );
      assert.equal(await store.deleteApp("a1"), true);
      assert.equal(await store.deleteApp("a1"), false);
      assert.deepEqual(
        (await store.listApps()).map((a) => a.id),
        ["a2"],
      );
      await store.close();
    });

    test("a duplicate app name is refused and changes nothing", async () => {
      const store = await openStore();
      await store.insertApp(newApp("a1", "same"), 1);
      await assert.rejects(store.insertApp(newApp("a2", "same"), 2), UniqueViolation);
      await store.insertApp(newApp("a3", "other"), 3);
      await assert.rejects(store.updateApp("a3", { name: "same" }, 4), UniqueViolation);
      assert.deepEqual(
        (await store.listApps()).map((a) => [a.id, a.name]),
        [
          ["a1", "same"],
          ["a3", "other"],
        ],
      );
      await store.close();
    });

    test("a failed transaction rolls back every write", async () => {
      const store = await openStore();
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.insertApp(newApp("t1", "txn"), 1);
          await tx.insertAuthority("t1", { certificatePem: "pem", privateKeySealed: "sealed" }, 1);
          throw new Error("boom");
        }),
        /boom/,
      );
      assert.equal(await store.findApp("t1"), undefined);
      assert.equal(await store.findAuthority("t1"), undefined);
      await store.close();
    });

    test("secrets, webhooks, OIDC providers and the CA belong to an app and go with it", async () => {
      const store = await openStore();
      await store.insertApp(newApp("a1", "one"), 1);
      await store.insertSecret("a1", { id: "cs_1", label: "backend", hash: "hash1" }, 5);
      await store.insertWebhook("a1", {
        name: "auth",
        url: "https://h.example/auth",
        dittoSignature: true,
        dittoSignatureKey: "base64",
        timeoutMs: 5000,
        createdAt: 5,
        secretSealed: "s",
      });
      await assert.rejects(
        store.insertWebhook("a1", {
          name: "auth",
          url: "https://h.example/x",
          dittoSignature: false,
          dittoSignatureKey: "utf8",
          timeoutMs: 1,
          createdAt: 6,
          secretSealed: "s",
        }),
        UniqueViolation,
      );
      await store.insertOidcProvider("a1", {
        name: "idp",
        issuer: "https://idp.example",
        audience: "aud",
        jwksUri: "https://idp.example/jwks",
        mapping: { userIdClaim: "sub", userInfoClaims: [], defaultPermissions: NO_ACCESS },
        createdAt: 5,
      });
      await store.insertAuthority("a1", { certificatePem: "pem", privateKeySealed: "sealed" }, 5);

      assert.equal(await store.activeSecretHash("a1", "cs_1"), "hash1");
      assert.equal(await store.activeSecretHash("other", "cs_1"), undefined);
      assert.equal(await store.revokeSecret("a1", "cs_1", 9), true);
      assert.equal(await store.revokeSecret("a1", "cs_1", 10), false);
      assert.equal(await store.activeSecretHash("a1", "cs_1"), undefined);
      assert.deepEqual(await store.listSecrets("a1"), [
        { id: "cs_1", label: "backend", createdAt: 5, revokedAt: 9 },
      ]);
      assert.equal((await store.listWebhooks("a1"))[0]?.dittoSignature, true);
      assert.equal((await store.listWebhooks("a1"))[0]?.dittoSignatureKey, "base64");
      // A row written before migration 005 gets the column's default: the secret's text, as then.
      await store.db
        .insertInto("app_webhooks")
        .values({
          app_id: "a1",
          name: "old",
          url: "https://h.example/old",
          secret_sealed: "s",
          ditto_signature: 1,
          timeout_ms: 5000,
          created_at: 1,
        })
        .execute();
      assert.equal((await store.listWebhooks("a1")).find((w) => w.name === "old")?.dittoSignatureKey, "utf8");
      assert.equal((await store.listOidcProviders("a1"))[0]?.mapping.userIdClaim, "sub");

      await store.deleteApp("a1");
      assert.deepEqual(await store.listSecrets("a1"), []);
      assert.deepEqual(await store.listWebhooks("a1"), []);
      assert.deepEqual(await store.listOidcProviders("a1"), []);
      assert.equal(await store.findAuthority("a1"), undefined);
      await store.close();
    });

    test("signing keys: retired keys stay published until their window ends, then lose their private half", async () => {
      const store = await openStore();
      const key = (kid: string, createdAt: number) => ({
        kid,
        alg: "ES256",
        publicJwk: { kty: "EC", kid },
        privateKeySealed: `sealed-${kid}`,
        createdAt,
        retiredAt: null,
        publishUntil: null,
      });
      await store.insertSigningKey(key("k1", 10));
      await store.insertSigningKey(key("k2", 20));
      assert.equal(await store.retireSigningKeys("k2", 30, 100), 1);
      assert.deepEqual(
        (await store.publishedSigningKeys(99)).map((k) => k.kid),
        ["k2", "k1"],
      );
      assert.deepEqual(
        (await store.publishedSigningKeys(100)).map((k) => k.kid),
        ["k2"],
      );
      assert.equal(await store.purgeSigningKeys(99), 0);
      assert.equal(await store.purgeSigningKeys(100), 1);
      const all = await store.allSigningKeys();
      assert.equal(all.find((k) => k.kid === "k1")?.privateKeySealed, null);
      assert.equal(all.find((k) => k.kid === "k2")?.privateKeySealed, "sealed-k2");
      await store.close();
    });

    test("settings: set-if-absent keeps the first value", async () => {
      const store = await openStore();
      assert.equal(await store.setSettingIfAbsent("k", "first", 1), "first");
      assert.equal(await store.setSettingIfAbsent("k", "second", 2), "first");
      assert.equal(await store.getSetting("missing"), undefined);
      await store.close();
    });
  });
}
