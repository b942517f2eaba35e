import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import {
  CertificateError,
  emptyRevocationList,
  isRevoked,
  mergeRevocationLists,
  REVOCATION_LIST_TYPE,
  type RevocationList,
  signRevocationList,
  verifyRevocationList,
} from "@meshauth/core";
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, type JWK, SignJWT } from "jose";

function rejectsWith(reason: string) {
  return (error: unknown) => {
    assert.ok(error instanceof CertificateError, `expected CertificateError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    return true;
  };
}

function list(
  version: number,
  entries: Partial<RevocationList["entries"]> = {},
  appId = "app-1",
): RevocationList {
  const empty = emptyRevocationList(appId);
  return { ...empty, version, issuedAt: 1_700_000_000 + version, entries: { ...empty.entries, ...entries } };
}

describe("revocation lists", () => {
  let hub: CryptoKeyPair;
  let jwks: JSONWebKeySet;

  before(async () => {
    hub = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    jwks = {
      keys: [{ ...(await crypto.subtle.exportKey("jwk", hub.publicKey)), kid: "hub-1", alg: "ES256" } as JWK],
    };
  });

  test("sign and verify round trip, with the hub's JWKS, a JWK, a CryptoKey or a resolver", async () => {
    const original = list(7, { userIds: ["u1"], serials: ["0a1b"] });
    const jws = await signRevocationList(original, hub.privateKey, "hub-1");
    assert.deepEqual(decodeProtectedHeader(jws), { alg: "ES256", typ: REVOCATION_LIST_TYPE, kid: "hub-1" });
    assert.deepEqual(await verifyRevocationList(jws, jwks, { appId: "app-1" }), original);
    assert.deepEqual(await verifyRevocationList(jws, jwks.keys[0]!, { appId: "app-1" }), original);
    assert.deepEqual(await verifyRevocationList(jws, hub.publicKey, { appId: "app-1" }), original);
    assert.deepEqual(await verifyRevocationList(jws, createLocalJWKSet(jwks), { appId: "app-1" }), original);
  });

  test("refused when signed by another key, for another app, of another type, or altered", async () => {
    const jws = await signRevocationList(list(1), hub.privateKey, "hub-1");
    const stranger = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
      "verify",
    ]);
    await assert.rejects(
      verifyRevocationList(jws, stranger.publicKey, { appId: "app-1" }),
      rejectsWith("invalid_revocation_list"),
    );
    await assert.rejects(
      verifyRevocationList(jws, jwks, { appId: "app-2" }),
      rejectsWith("invalid_revocation_list"),
    );

    const otherType = await new SignJWT({ ...list(1) })
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: "hub-1" })
      .sign(hub.privateKey);
    await assert.rejects(
      verifyRevocationList(otherType, jwks, { appId: "app-1" }),
      rejectsWith("invalid_revocation_list"),
    );

    const [header, , signature] = jws.split(".");
    const altered = Buffer.from(JSON.stringify({ ...list(9), appId: "app-1" })).toString("base64url");
    await assert.rejects(
      verifyRevocationList(`${header}.${altered}.${signature}`, jwks, { appId: "app-1" }),
      rejectsWith("invalid_revocation_list"),
    );
  });

  test("a malformed list is refused even when signed", async () => {
    const bad = await new SignJWT({ appId: "app-1", version: -1, issuedAt: 0, entries: {} })
      .setProtectedHeader({ alg: "ES256", typ: REVOCATION_LIST_TYPE })
      .sign(hub.privateKey);
    await assert.rejects(
      verifyRevocationList(bad, hub.publicKey, { appId: "app-1" }),
      rejectsWith("invalid_revocation_list"),
    );
  });

  test("isRevoked matches user, peer key, session and serial (case and leading zeros aside)", () => {
    const identity = { userId: "u1", peerKey: "pk1" };
    assert.equal(isRevoked(list(1), identity, "0abc", "s1"), false);
    assert.equal(isRevoked(list(1, { userIds: ["u1"] }), identity), true);
    assert.equal(isRevoked(list(1, { peerKeys: ["pk1"] }), identity), true);
    assert.equal(isRevoked(list(1, { sessionIds: ["s1"] }), identity, undefined, "s1"), true);
    assert.equal(isRevoked(list(1, { sessionIds: ["s1"] }), identity, undefined, "s2"), false);
    assert.equal(isRevoked(list(1, { serials: ["00ABC"] }), identity, "0abc"), true);
    assert.equal(isRevoked(list(1, { serials: ["0abd"] }), identity, "0abc"), false);
  });

  test("merging keeps the newest version and never goes back", () => {
    const v1 = list(1, { userIds: ["a"] });
    const v2 = list(2, { userIds: ["a", "b"] });
    const otherV2 = list(2, { userIds: [] });
    assert.equal(mergeRevocationLists(undefined, v1), v1);
    assert.equal(mergeRevocationLists(v1, v2), v2);
    assert.equal(mergeRevocationLists(v2, v1), v2, "an older list never replaces a newer one");
    assert.equal(mergeRevocationLists(v2, otherV2), v2, "a tie keeps the list already held");
    assert.throws(
      () => mergeRevocationLists(v1, list(5, {}, "app-2")),
      rejectsWith("invalid_revocation_list"),
    );
    // Callers can carry the JWS along with the list.
    const held = { ...v1, jws: "one" };
    const received = { ...v2, jws: "two" };
    assert.equal(mergeRevocationLists(held, received).jws, "two");
  });
});
