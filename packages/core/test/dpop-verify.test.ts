import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import {
  accessTokenHash,
  createDpopProof,
  createNonceService,
  DpopError,
  type DpopFailure,
  generateDpopKeyPair,
  jwkThumbprint,
  MemoryReplayCache,
  type VerifyDpopProofOptions,
  verifyDpopProof,
} from "@meshauth/core";
import { base64url, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

// Every attack below starts from a proof that verifies (see "control") and changes one
// thing, so each test fails if the one check it aims at is taken out.

const NOW = 1_800_000_000;
const HTU = "https://hub.example.com/token";
const BASE: VerifyDpopProofOptions = { htm: "POST", htu: HTU, now: () => NOW };

let keys: CryptoKeyPair;
let jwk: JWK;
let jkt: string;

before(async () => {
  keys = await generateDpopKeyPair();
  jwk = await exportJWK(keys.publicKey);
  jkt = await jwkThumbprint(jwk);
});

interface Craft {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  key?: CryptoKey | Uint8Array;
}

/** A proof with full control over header and claims; defaults make a valid ES256 proof. */
async function craft({ header = {}, claims = {}, key }: Craft = {}): Promise<string> {
  const fullClaims = { jti: crypto.randomUUID(), htm: "POST", htu: HTU, iat: NOW, ...claims };
  for (const [name, value] of Object.entries(fullClaims)) {
    if (value === undefined) delete fullClaims[name as keyof typeof fullClaims];
  }
  const fullHeader = { typ: "dpop+jwt", alg: "ES256", jwk, ...header };
  for (const [name, value] of Object.entries(fullHeader)) {
    if (value === undefined) delete fullHeader[name as keyof typeof fullHeader];
  }
  return new SignJWT(fullClaims)
    .setProtectedHeader(fullHeader as { alg: string })
    .sign(key ?? keys.privateKey);
}

async function rejects(
  proof: string | Promise<string>,
  options: VerifyDpopProofOptions,
  code: DpopError["code"],
  reason: DpopFailure,
): Promise<DpopError> {
  let caught: unknown;
  try {
    await verifyDpopProof(await proof, options);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof DpopError, `expected a DpopError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.reason, reason, caught.message);
  return caught;
}

/** base64url of a JSON value, for hand-built tokens. */
function b64json(value: unknown): string {
  return base64url.encode(new TextEncoder().encode(JSON.stringify(value)));
}

describe("verifyDpopProof", () => {
  test("control: a crafted proof and a createDpopProof proof both verify", async () => {
    const crafted = await verifyDpopProof(await craft(), BASE);
    assert.equal(crafted.jkt, jkt);
    const made = await createDpopProof({ ...keys, htm: "POST", htu: HTU, iat: NOW });
    const result = await verifyDpopProof(made, BASE);
    assert.equal(result.jkt, jkt);
    assert.equal(result.htm, "POST");
    assert.equal(result.htu, HTU);
    assert.equal(result.iat, NOW);
    assert.equal(result.alg, "ES256");
    assert.deepEqual(result.jwk, { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y });
    assert.equal(result.nonce, undefined);
  });

  test("a replayed proof is refused", async () => {
    const replay = new MemoryReplayCache({ now: () => NOW });
    const proof = await craft();
    await verifyDpopProof(proof, { ...BASE, replay });
    await rejects(proof, { ...BASE, replay }, "invalid_dpop_proof", "replayed");
  });

  test("the replay key is per key: one jti from two keys is two proofs", async () => {
    const replay = new MemoryReplayCache({ now: () => NOW });
    const other = await generateDpopKeyPair();
    await verifyDpopProof(await craft({ claims: { jti: "same" } }), { ...BASE, replay });
    const second = await createDpopProof({ ...other, htm: "POST", htu: HTU, iat: NOW, jti: "same" });
    await verifyDpopProof(second, { ...BASE, replay });
  });

  test("the replay entry lasts as long as the proof is acceptable", async () => {
    const seen: number[] = [];
    const replay = {
      async use(_id: string, expiresAt: number) {
        seen.push(expiresAt);
        return true;
      },
    };
    await verifyDpopProof(await craft({ claims: { iat: NOW - 10 } }), { ...BASE, replay });
    assert.deepEqual(seen, [NOW - 10 + 300]);
  });

  test("a proof for another URL is refused", async () => {
    await rejects(
      craft({ claims: { htu: "https://hub.example.com/certificate" } }),
      BASE,
      "invalid_dpop_proof",
      "htu",
    );
    await rejects(
      craft({ claims: { htu: "https://evil.example.com/token" } }),
      BASE,
      "invalid_dpop_proof",
      "htu",
    );
    await rejects(
      craft({ claims: { htu: "http://hub.example.com/token" } }),
      BASE,
      "invalid_dpop_proof",
      "htu",
    );
    await rejects(
      craft({ claims: { htu: "https://hub.example.com/Token" } }),
      BASE,
      "invalid_dpop_proof",
      "htu",
    );
    await rejects(craft({ claims: { htu: "not a url" } }), BASE, "invalid_dpop_proof", "htu");
    await rejects(craft({ claims: { htu: undefined } }), BASE, "invalid_dpop_proof", "htu");
  });

  test("htu is compared after normalisation", async () => {
    const variants = [
      "HTTPS://HUB.Example.com:443/token",
      "https://hub.example.com/token?grant_type=refresh_token",
      "https://hub.example.com/token#frag",
      "https://hub.example.com/./token",
      "https://hub.example.com/%74oken",
    ];
    for (const htu of variants) await verifyDpopProof(await craft({ claims: { htu } }), BASE);
    await verifyDpopProof(await craft(), { ...BASE, htu: "https://hub.example.com:443/token?x#y" });
  });

  test("a proof for another method is refused", async () => {
    await rejects(craft({ claims: { htm: "GET" } }), BASE, "invalid_dpop_proof", "htm");
    await rejects(craft({ claims: { htm: "post" } }), BASE, "invalid_dpop_proof", "htm");
    await rejects(craft({ claims: { htm: undefined } }), BASE, "invalid_dpop_proof", "htm");
  });

  test("an old proof is refused with clock_skew and the server's time", async () => {
    await verifyDpopProof(await craft({ claims: { iat: NOW - 300 } }), BASE);
    const error = await rejects(craft({ claims: { iat: NOW - 301 } }), BASE, "clock_skew", "iat");
    assert.deepEqual(error.details, { server_time: NOW });
    await rejects(craft({ claims: { iat: NOW - 61 } }), { ...BASE, maxAgeSeconds: 60 }, "clock_skew", "iat");
  });

  test("a proof from the future is refused with clock_skew and the server's time", async () => {
    await verifyDpopProof(await craft({ claims: { iat: NOW + 60 } }), BASE);
    const error = await rejects(craft({ claims: { iat: NOW + 61 } }), BASE, "clock_skew", "iat");
    assert.deepEqual(error.details, { server_time: NOW });
    await rejects(craft({ claims: { iat: NOW + 6 } }), { ...BASE, clockSkewSeconds: 5 }, "clock_skew", "iat");
  });

  test("clock_skew is only reported when time is the proof's one fault", async () => {
    const proof = craft({ claims: { iat: NOW - 3600, htu: "https://hub.example.com/other" } });
    await rejects(proof, BASE, "invalid_dpop_proof", "htu");
    const badSignature = craft({
      claims: { iat: NOW - 3600 },
      key: (await generateDpopKeyPair()).privateKey,
    });
    await rejects(badSignature, BASE, "invalid_dpop_proof", "signature");
  });

  test("a missing or non-numeric iat is refused", async () => {
    await rejects(craft({ claims: { iat: undefined } }), BASE, "invalid_dpop_proof", "iat");
    await rejects(craft({ claims: { iat: String(NOW) } }), BASE, "invalid_dpop_proof", "iat");
  });

  test("alg none is refused, even when listed", async () => {
    const header = b64json({ typ: "dpop+jwt", alg: "none", jwk });
    const claims = b64json({ jti: "j1", htm: "POST", htu: HTU, iat: NOW });
    const unsigned = `${header}.${claims}.`;
    await rejects(unsigned, BASE, "invalid_dpop_proof", "alg");
    await rejects(unsigned, { ...BASE, algorithms: ["none", "ES256"] }, "invalid_dpop_proof", "alg");
  });

  test("HS256 is refused, even when listed", async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const octJwk = { kty: "oct", k: base64url.encode(secret) };
    const withOct = craft({ header: { alg: "HS256", jwk: octJwk }, key: secret });
    await rejects(withOct, BASE, "invalid_dpop_proof", "alg");
    await rejects(withOct, { ...BASE, algorithms: ["HS256"] }, "invalid_dpop_proof", "alg");
    // Key confusion: the public key's bytes used as an HMAC secret.
    const confused = craft({ header: { alg: "HS256" }, key: base64url.decode(jwk.x!) });
    await rejects(confused, { ...BASE, algorithms: ["HS256", "ES256"] }, "invalid_dpop_proof", "alg");
  });

  test("an algorithm outside the configured list is refused", async () => {
    const ed = await generateDpopKeyPair("EdDSA");
    const proof = await createDpopProof({ ...ed, htm: "POST", htu: HTU, iat: NOW });
    await verifyDpopProof(proof, BASE);
    await rejects(proof, { ...BASE, algorithms: ["ES256"] }, "invalid_dpop_proof", "alg");
  });

  test("a jwk carrying the private key is refused", async () => {
    const extractable = await generateDpopKeyPair("ES256", { extractable: true });
    const privateJwk = await exportJWK(extractable.privateKey);
    assert.ok(privateJwk.d);
    const proof = craft({ header: { jwk: privateJwk }, key: extractable.privateKey });
    await rejects(proof, BASE, "invalid_dpop_proof", "jwk");
  });

  test("a symmetric, missing or mismatched jwk is refused", async () => {
    await rejects(craft({ header: { jwk: undefined } }), BASE, "invalid_dpop_proof", "jwk");
    await rejects(craft({ header: { jwk: "x" } }), BASE, "invalid_dpop_proof", "jwk");
    await rejects(craft({ header: { jwk: { kty: "oct", k: "AAAA" } } }), BASE, "invalid_dpop_proof", "jwk");
    await rejects(craft({ header: { jwk: { ...jwk, use: "enc" } } }), BASE, "invalid_dpop_proof", "jwk");
    await rejects(craft({ header: { jwk: { ...jwk, y: undefined } } }), BASE, "invalid_dpop_proof", "jwk");
    await rejects(craft({ header: { jwk: { ...jwk, x: 5 } } }), BASE, "invalid_dpop_proof", "jwk");
    await rejects(craft({ header: { jwk: { ...jwk, alg: "ES384" } } }), BASE, "invalid_dpop_proof", "jwk");
    // A P-384 key under ES256, signed by hand since jose refuses to make such a token.
    const p384 = await generateKeyPair("ES384");
    const signingInput = `${b64json({ typ: "dpop+jwt", alg: "ES256", jwk: await exportJWK(p384.publicKey) })}.${b64json({ jti: "j", htm: "POST", htu: HTU, iat: NOW })}`;
    const signature = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      p384.privateKey,
      new TextEncoder().encode(signingInput),
    );
    const mismatched = `${signingInput}.${base64url.encode(new Uint8Array(signature))}`;
    await rejects(mismatched, BASE, "invalid_dpop_proof", "jwk");
  });

  test("a signature by another key than the embedded jwk is refused", async () => {
    const attacker = await generateDpopKeyPair();
    await rejects(craft({ key: attacker.privateKey }), BASE, "invalid_dpop_proof", "signature");
    const proof = await craft();
    const [h, p, s] = proof.split(".");
    const tampered = `${h}.${b64json({ jti: "x", htm: "POST", htu: HTU, iat: NOW })}.${s}`;
    assert.notEqual(tampered, `${h}.${p}.${s}`);
    await rejects(tampered, BASE, "invalid_dpop_proof", "signature");
  });

  test("a proof whose key is named by reference (x5c, jku, x5u) is refused", async () => {
    for (const header of [
      { x5c: ["MIIB"] },
      { jku: "https://evil.example.com/jwks" },
      { x5u: "https://e/x" },
    ]) {
      await rejects(craft({ header }), BASE, "invalid_dpop_proof", "header");
    }
  });

  test("a wrong or missing typ is refused", async () => {
    await rejects(craft({ header: { typ: "JWT" } }), BASE, "invalid_dpop_proof", "typ");
    await rejects(craft({ header: { typ: "at+jwt" } }), BASE, "invalid_dpop_proof", "typ");
    await rejects(craft({ header: { typ: undefined } }), BASE, "invalid_dpop_proof", "typ");
  });

  test("ath must be present and match when an access token is sent", async () => {
    const accessToken = "eyJ.access.token";
    const withToken = { ...BASE, accessToken };
    await verifyDpopProof(await craft({ claims: { ath: await accessTokenHash(accessToken) } }), withToken);
    await rejects(craft(), withToken, "invalid_dpop_proof", "ath");
    const other = await accessTokenHash("eyJ.another.token");
    await rejects(craft({ claims: { ath: other } }), withToken, "invalid_dpop_proof", "ath");
    await rejects(craft({ claims: { ath: 42 } }), withToken, "invalid_dpop_proof", "ath");
  });

  test("a proof made for a token is refused without one", async () => {
    const ath = await accessTokenHash("eyJ.access.token");
    await rejects(craft({ claims: { ath } }), BASE, "invalid_dpop_proof", "ath");
  });

  test("a stolen refresh token used with another key is refused (expectedJkt)", async () => {
    const attacker = await generateDpopKeyPair();
    const proof = createDpopProof({ ...attacker, htm: "POST", htu: HTU, iat: NOW });
    await rejects(proof, { ...BASE, expectedJkt: jkt }, "invalid_dpop_proof", "jkt");
    await verifyDpopProof(await craft(), { ...BASE, expectedJkt: jkt });
  });

  test("an oversized proof is refused before it is parsed", async () => {
    const big = await craft({ claims: { pad: "a".repeat(9000) } });
    await rejects(big, BASE, "invalid_dpop_proof", "too_large");
  });

  test("malformed proofs are refused", async () => {
    const proof = await craft();
    for (const bad of ["", "a.b", `${proof}.x`, "a.b.c.d.e", `${proof} `, "é.é.é"]) {
      await rejects(bad, BASE, "invalid_dpop_proof", "malformed");
    }
    await rejects(`${b64json("str")}.${b64json({})}.AA`, BASE, "invalid_dpop_proof", "malformed");
    await rejects(42 as unknown as string, BASE, "invalid_dpop_proof", "malformed");
  });

  test("a missing, empty or overlong jti is refused", async () => {
    await rejects(craft({ claims: { jti: undefined } }), BASE, "invalid_dpop_proof", "jti");
    await rejects(craft({ claims: { jti: "" } }), BASE, "invalid_dpop_proof", "jti");
    await rejects(craft({ claims: { jti: "j".repeat(257) } }), BASE, "invalid_dpop_proof", "jti");
    await verifyDpopProof(await craft({ claims: { jti: "j".repeat(256) } }), BASE);
  });

  test("a payload that is not a JSON object is refused", async () => {
    const header = { typ: "dpop+jwt", alg: "ES256", jwk };
    const { CompactSign } = await import("jose");
    const sign = (bytes: Uint8Array) =>
      new CompactSign(bytes).setProtectedHeader(header).sign(keys.privateKey);
    await rejects(sign(new TextEncoder().encode("[1]")), BASE, "invalid_dpop_proof", "claims");
    await rejects(sign(new TextEncoder().encode("nope")), BASE, "invalid_dpop_proof", "claims");
  });
});

describe("verifyDpopProof with server nonces", () => {
  const secret = new Uint8Array(32).fill(7);
  const nonces = createNonceService({ secret, now: () => NOW });

  test("a required nonce that is missing is asked for with a fresh one", async () => {
    const options = { ...BASE, nonce: { required: true, ...nonces } };
    const error = await rejects(craft(), options, "use_dpop_nonce", "nonce");
    const fresh = error.details["nonce"];
    assert.equal(typeof fresh, "string");
    assert.equal(await nonces.check(fresh as string), true);
    const result = await verifyDpopProof(await craft({ claims: { nonce: fresh } }), options);
    assert.equal(result.nonce, fresh);
  });

  test("a forged nonce is refused with a fresh one", async () => {
    const options = { ...BASE, nonce: { required: true, ...nonces } };
    const good = await nonces.issue();
    const last = good.at(-2) === "A" ? "B" : "A";
    const forged = `${good.slice(0, -2)}${last}${good.at(-1)}`;
    const error = await rejects(craft({ claims: { nonce: forged } }), options, "use_dpop_nonce", "nonce");
    assert.equal(await nonces.check(error.details["nonce"] as string), true);
  });

  test("an expired nonce is refused", async () => {
    const old = await createNonceService({ secret, now: () => NOW - 301 }).issue();
    await rejects(
      craft({ claims: { nonce: old } }),
      { ...BASE, nonce: { required: true, ...nonces } },
      "use_dpop_nonce",
      "nonce",
    );
  });

  test("a nonce from another secret is refused", async () => {
    const foreign = await createNonceService({ secret: new Uint8Array(32).fill(8), now: () => NOW }).issue();
    const options = { ...BASE, nonce: { required: true, ...nonces } };
    await rejects(craft({ claims: { nonce: foreign } }), options, "use_dpop_nonce", "nonce");
  });

  test("when nonces are optional, a sent nonce is still checked", async () => {
    const options = { ...BASE, nonce: { required: false, ...nonces } };
    await verifyDpopProof(await craft(), options);
    await rejects(craft({ claims: { nonce: "made-up" } }), options, "use_dpop_nonce", "nonce");
    await rejects(craft({ claims: { nonce: 5 } }), options, "invalid_dpop_proof", "nonce");
  });

  test("a proof refused for its nonce does not spend its jti", async () => {
    const replay = new MemoryReplayCache({ now: () => NOW });
    const options = { ...BASE, replay, nonce: { required: true, ...nonces } };
    const jti = "retry-me";
    await rejects(craft({ claims: { jti } }), options, "use_dpop_nonce", "nonce");
    await verifyDpopProof(await craft({ claims: { jti, nonce: await nonces.issue() } }), options);
  });
});
