import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  accessTokenHash,
  createDpopProof,
  type DpopAlgorithm,
  generateDpopKeyPair,
  jwkThumbprint,
  verifyDpopProof,
} from "@meshauth/core";
import { base64url, decodeJwt, decodeProtectedHeader, exportJWK } from "jose";

const HTU = "https://hub.example.com/token";

describe("generateDpopKeyPair", () => {
  test("makes a non-extractable P-256 key by default", async () => {
    const { privateKey, publicKey } = await generateDpopKeyPair();
    assert.equal(privateKey.extractable, false);
    assert.equal(publicKey.extractable, true);
    assert.deepEqual(privateKey.algorithm, { name: "ECDSA", namedCurve: "P-256" });
    await assert.rejects(exportJWK(privateKey));
  });

  test("can make an extractable key, and Ed25519 keys", async () => {
    const extractable = await generateDpopKeyPair("ES256", { extractable: true });
    assert.equal(extractable.privateKey.extractable, true);
    const ed = await generateDpopKeyPair("EdDSA");
    assert.equal(ed.privateKey.algorithm.name, "Ed25519");
  });
});

describe("createDpopProof", () => {
  test("carries typ, alg, the bare public jwk and the RFC 9449 claims", async () => {
    const keys = await generateDpopKeyPair();
    const proof = await createDpopProof({ ...keys, htm: "POST", htu: `${HTU}?a=1#frag` });
    const header = decodeProtectedHeader(proof);
    const publicJwk = await exportJWK(keys.publicKey);
    assert.deepEqual(header, {
      typ: "dpop+jwt",
      alg: "ES256",
      jwk: { kty: "EC", crv: "P-256", x: publicJwk.x, y: publicJwk.y },
    });
    const claims = decodeJwt(proof);
    assert.deepEqual(Object.keys(claims).sort(), ["htm", "htu", "iat", "jti"]);
    assert.equal(claims.htm, "POST");
    assert.equal(claims.htu, HTU);
    assert.ok(Math.abs((claims.iat ?? 0) - Date.now() / 1000) < 600);
    assert.ok(base64url.decode(claims.jti ?? "").byteLength >= 12, "jti has at least 96 bits");
  });

  test("jti differs between proofs", async () => {
    const keys = await generateDpopKeyPair();
    const a = decodeJwt(await createDpopProof({ ...keys, htm: "GET", htu: HTU }));
    const b = decodeJwt(await createDpopProof({ ...keys, htm: "GET", htu: HTU }));
    assert.notEqual(a.jti, b.jti);
  });

  test("adds nonce and ath when given, and honours iat and jti", async () => {
    const keys = await generateDpopKeyPair();
    const proof = await createDpopProof({
      ...keys,
      htm: "POST",
      htu: HTU,
      nonce: "n-1",
      accessToken: "tok",
      iat: 1_700_000_000,
      jti: "my-jti",
    });
    const claims = decodeJwt(proof);
    assert.equal(claims["nonce"], "n-1");
    assert.equal(claims["ath"], await accessTokenHash("tok"));
    assert.equal(claims.iat, 1_700_000_000);
    assert.equal(claims.jti, "my-jti");
  });

  test("never embeds private members, even from a private JWK passed as publicKey", async () => {
    const keys = await generateDpopKeyPair("ES256", { extractable: true });
    const privateJwk = await exportJWK(keys.privateKey);
    const proof = await createDpopProof({
      privateKey: keys.privateKey,
      publicKey: privateJwk,
      htm: "GET",
      htu: HTU,
    });
    const header = decodeProtectedHeader(proof);
    assert.equal((header.jwk as Record<string, unknown>)["d"], undefined);
    await assert.rejects(
      createDpopProof({ privateKey: keys.privateKey, publicKey: keys.privateKey, htm: "GET", htu: HTU }),
    );
  });

  test("refuses bad inputs", async () => {
    const keys = await generateDpopKeyPair();
    await assert.rejects(createDpopProof({ ...keys, htm: "PO ST", htu: HTU }), TypeError);
    await assert.rejects(createDpopProof({ ...keys, htm: "GET", htu: "ftp://h/x" }), TypeError);
    await assert.rejects(createDpopProof({ ...keys, htm: "GET", htu: HTU, jti: "" }), TypeError);
    await assert.rejects(createDpopProof({ ...keys, htm: "GET", htu: HTU, iat: Number.NaN }), TypeError);
  });

  for (const alg of [
    "ES256",
    "ES384",
    "EdDSA",
    "Ed25519",
    "PS256",
    "RS256",
  ] as const satisfies DpopAlgorithm[]) {
    test(`round-trips with ${alg}`, async () => {
      const keys = await generateDpopKeyPair(alg);
      const proof = await createDpopProof({ ...keys, alg, htm: "POST", htu: HTU, accessToken: "t" });
      const result = await verifyDpopProof(proof, { htm: "POST", htu: HTU, accessToken: "t" });
      assert.equal(result.alg, alg);
      assert.equal(result.jkt, await jwkThumbprint(keys.publicKey));
    });
  }

  test("derives alg from the key", async () => {
    for (const [alg, expected] of [
      ["ES256", "ES256"],
      ["ES384", "ES384"],
      ["Ed25519", "EdDSA"],
    ] as const) {
      const keys = await generateDpopKeyPair(alg);
      const proof = await createDpopProof({ ...keys, htm: "GET", htu: HTU });
      assert.equal(decodeProtectedHeader(proof).alg, expected);
    }
  });
});

describe("jwkThumbprint and accessTokenHash", () => {
  test("RFC 7638 §3.1 example thumbprint", async () => {
    const jwk = {
      kty: "RSA",
      n:
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs" +
        "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajr" +
        "n1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
      e: "AQAB",
    };
    assert.equal(await jwkThumbprint(jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  });

  test("a public CryptoKey and its JWK have one thumbprint", async () => {
    const { publicKey } = await generateDpopKeyPair();
    assert.equal(await jwkThumbprint(publicKey), await jwkThumbprint(await exportJWK(publicKey)));
  });

  test("ath is base64url SHA-256 of the token (RFC 9449 §7.1 example)", async () => {
    const token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
    assert.equal(await accessTokenHash(token), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
  });
});

test("dpop sources import nothing from node:", () => {
  const dir = new URL("../src/dpop/", import.meta.url);
  for (const name of readdirSync(dir)) {
    const source = readFileSync(new URL(name, dir), "utf8");
    assert.doesNotMatch(source, /from\s+["']node:|require\(/, name);
  }
});
