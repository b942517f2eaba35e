import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { calculateJwkThumbprint, type JWK } from "jose";
import type { StoredSession } from "../src/session.js";
import { memoryStore } from "../src/stores/memory.js";
import type { StoredCertificate } from "../src/stores/types.js";

const session: StoredSession = {
  version: 1,
  accessToken: "access-token",
  accessTokenExpiresAt: 1_900_000_000_000,
  refreshToken: "refresh-token",
  refreshTokenExpiresAt: undefined,
  identity: {
    userId: "user-1",
    appId: "app-1",
    provider: "email",
    permissions: { read: { everything: true }, write: { everything: false } },
    userInfo: { email: "ada@example.com", tags: ["a"] },
    exp: 1_950_000_000,
  } as unknown as StoredSession["identity"],
};

const certificate: StoredCertificate = {
  certificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
  caCertificates: ["ca"],
  expiresAt: 1_950_000_000_000,
};

async function thumbprint(key: CryptoKey): Promise<string> {
  return calculateJwkThumbprint((await crypto.subtle.exportKey("jwk", key)) as JWK);
}

describe("memoryStore", () => {
  test("starts empty; keeps and deletes session, certificate and pending revocations", async () => {
    const store = memoryStore();
    assert.equal(await store.loadKey(), undefined);
    assert.equal(await store.loadSession(), undefined);
    assert.equal(await store.loadCertificate(), undefined);
    assert.deepEqual(await store.loadPendingRevocations(), []);

    await store.saveSession(session);
    await store.saveCertificate(certificate);
    await store.savePendingRevocations(["rt-1", "rt-2"]);
    assert.deepEqual(await store.loadSession(), session);
    assert.deepEqual(await store.loadCertificate(), certificate);
    assert.deepEqual(await store.loadPendingRevocations(), ["rt-1", "rt-2"]);

    await store.deleteSession();
    await store.deleteCertificate();
    await store.savePendingRevocations([]);
    assert.equal(await store.loadSession(), undefined);
    assert.equal(await store.loadCertificate(), undefined);
    assert.deepEqual(await store.loadPendingRevocations(), []);
    assert.equal(memoryStore().exportPrivateKeyPem, undefined, "keys stay non-extractable");
  });

  test("the key is P-256 with a non-extractable private key that signs", async () => {
    const store = memoryStore();
    const created = await store.createKey();
    const loaded = await store.loadKey();
    assert.ok(loaded);
    assert.equal(loaded.privateKey, created.privateKey);
    assert.equal(loaded.privateKey.extractable, false);
    assert.equal(loaded.publicKey.extractable, true);
    assert.deepEqual(loaded.privateKey.algorithm, { name: "ECDSA", namedCurve: "P-256" });
    await assert.rejects(crypto.subtle.exportKey("pkcs8", loaded.privateKey));
    const algorithm = { name: "ECDSA", hash: "SHA-256" };
    const data = new TextEncoder().encode("proof");
    const signature = await crypto.subtle.sign(algorithm, loaded.privateKey, data);
    assert.ok(await crypto.subtle.verify(algorithm, loaded.publicKey, signature, data));

    const replaced = await store.createKey();
    assert.notEqual(await thumbprint(replaced.publicKey), await thumbprint(created.publicKey));
    await store.deleteKey();
    assert.equal(await store.loadKey(), undefined);
  });

  test("stored objects are copies: changing them on either side does not change the store", async () => {
    const store = memoryStore();
    const mine = structuredClone(session);
    await store.saveSession(mine);
    mine.accessToken = "changed after saving";
    (mine.identity.userInfo as { tags: string[] }).tags.push("b");
    const loaded = await store.loadSession();
    assert.deepEqual(loaded, session);
    loaded!.refreshToken = "changed after loading";
    assert.deepEqual(await store.loadSession(), session);

    const tokens = ["rt-1"];
    await store.savePendingRevocations(tokens);
    tokens.push("rt-2");
    (await store.loadPendingRevocations()).push("rt-3");
    assert.deepEqual(await store.loadPendingRevocations(), ["rt-1"]);

    const cert = structuredClone(certificate);
    await store.saveCertificate(cert);
    cert.caCertificates.push("other");
    (await store.loadCertificate())!.caCertificates.length = 0;
    assert.deepEqual(await store.loadCertificate(), certificate);

    const keys = (await store.createKey()) as { privateKey: CryptoKey | undefined };
    keys.privateKey = undefined;
    assert.ok((await store.loadKey())?.privateKey);
  });

  test("exclusive runs one section per name at a time, in order, and survives a throwing one", async () => {
    const store = memoryStore();
    const events: string[] = [];
    const section = (id: string, fail = false) =>
      store.exclusive("refresh", async () => {
        events.push(`enter ${id}`);
        await new Promise((done) => setTimeout(done, 5));
        events.push(`exit ${id}`);
        if (fail) throw new Error(`boom ${id}`);
        return id;
      });
    const results = await Promise.allSettled([section("1"), section("2", true), section("3")]);
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? r.value : (r.reason as Error).message)),
      ["1", "boom 2", "3"],
    );
    assert.deepEqual(events, ["enter 1", "exit 1", "enter 2", "exit 2", "enter 3", "exit 3"]);

    // Another name does not wait.
    let release!: () => void;
    const held = store.exclusive("one", () => new Promise<void>((done) => (release = done)));
    assert.equal(await store.exclusive("two", async () => "not blocked"), "not blocked");
    release();
    await held;
  });
});
