// The hub's node:crypto versions of core's WebCrypto code (DPoP signature check and
// thumbprint, nonces, JWT signing) must give the same answers, so every client, API and
// hub process keeps agreeing with them.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import {
  createDpopProof,
  createNonceService,
  DpopError,
  generateDpopKeyPair,
  jwkThumbprint,
  verifyDpopProof,
} from "@meshauth/core";
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from "jose";
import { createNodeDpopVerifier, createNodeNonceService } from "../src/crypto/node-dpop.js";
import { openHubCore } from "../src/hub.js";
import { cleanup, engines, testConfig } from "./helpers/engines.js";

after(cleanup);

const htu = "https://hub.example/token";

async function keyPair(alg: string): Promise<CryptoKeyPair> {
  if (alg === "ES256" || alg === "EdDSA") return generateDpopKeyPair(alg);
  return (await generateKeyPair(alg, { modulusLength: 2048 })) as CryptoKeyPair;
}

describe("node:crypto DPoP verifier", () => {
  const verifier = createNodeDpopVerifier();

  for (const alg of ["ES256", "EdDSA", "RS256", "PS256"] as const) {
    test(`${alg}: same result as WebCrypto for a good proof, refuses a forged one`, async () => {
      const keys = await keyPair(alg);
      const make = () => createDpopProof({ ...keys, alg, htm: "POST", htu });
      const viaNode = await verifyDpopProof(await make(), { htm: "POST", htu, verifier });
      const viaWebCrypto = await verifyDpopProof(await make(), { htm: "POST", htu });
      assert.equal(viaNode.jkt, viaWebCrypto.jkt);
      assert.equal(viaNode.jkt, await jwkThumbprint(keys.publicKey));
      assert.deepEqual(viaNode.jwk, viaWebCrypto.jwk);

      // Another key's signature under this proof's header and payload.
      const other = await keyPair(alg);
      const [h, p] = (await make()).split(".");
      const [, , foreign] = (await createDpopProof({ ...other, alg, htm: "POST", htu })).split(".");
      for (const forged of [`${h}.${p}.${foreign}`, `${h}.${p}.`, `${h}.${p}.AAAA`]) {
        await assert.rejects(
          verifyDpopProof(forged, { htm: "POST", htu, verifier }),
          (e: unknown) => e instanceof DpopError && e.reason === "signature",
        );
      }
    });
  }

  test("a proof whose payload was changed after signing is refused", async () => {
    const keys = await generateDpopKeyPair();
    const [h, , s] = (await createDpopProof({ ...keys, htm: "POST", htu })).split(".");
    const payload = Buffer.from(JSON.stringify({ jti: "x", htm: "POST", htu, iat: Date.now() / 1000 }));
    await assert.rejects(
      verifyDpopProof(`${h}.${payload.toString("base64url")}.${s}`, { htm: "POST", htu, verifier }),
      (e: unknown) => e instanceof DpopError && e.reason === "signature",
    );
  });

  test("thumbprints match RFC 7638 for EC and OKP keys", async () => {
    for (const alg of ["ES256", "EdDSA"] as const) {
      const { publicKey } = await generateDpopKeyPair(alg);
      const jwk = await exportJWK(publicKey);
      assert.equal(verifier.thumbprint({ ...jwk, kid: "ignored", use: "sig" }), await jwkThumbprint(jwk));
    }
  });
});

describe("node:crypto DPoP nonces", () => {
  const secret = new Uint8Array(32).fill(7);
  let clock = 1_800_000_000;
  const now = () => clock;

  test("nonces issued by either service are accepted by the other; a tampered or other-secret one is not", async () => {
    const node = createNodeNonceService({ secret, now });
    const web = createNonceService({ secret, now });
    const other = createNodeNonceService({ secret: new Uint8Array(32).fill(8), now });
    const fromNode = await node.issue();
    const fromWeb = await web.issue();
    assert.equal(fromNode.length, fromWeb.length);
    assert.equal(await web.check(fromNode), true);
    assert.equal(await node.check(fromWeb), true);
    assert.equal(await other.check(fromNode), false);
    const flipped = `${fromNode.slice(0, 20)}${fromNode[20] === "A" ? "B" : "A"}${fromNode.slice(21)}`;
    assert.equal(await node.check(flipped), false);
    assert.equal(await node.check("short"), false);
  });

  test("a nonce expires after its lifetime and is refused when dated too far ahead", async () => {
    const node = createNodeNonceService({ secret, now, lifetimeSeconds: 60 });
    const nonce = await node.issue();
    clock += 61;
    assert.equal(await node.check(nonce), false);
    const ahead = await node.issue();
    clock -= 120;
    assert.equal(await node.check(ahead), false);
  });
});

describe("hub JWT signing with node:crypto", () => {
  const [sqlite] = engines();
  for (const alg of ["ES256", "EdDSA"] as const) {
    test(`${alg} tokens verify with jose against the published JWKS`, async () => {
      const core = await openHubCore({ ...(await testConfig(sqlite as never)), signingAlg: alg });
      try {
        const token = await core.keys.sign({ sub: "u1", iss: "https://hub.example" }, "at+jwt");
        const jwks = createLocalJWKSet(await core.keys.jwks());
        const { payload, protectedHeader } = await jwtVerify(token, jwks, { typ: "at+jwt" });
        assert.equal(payload.sub, "u1");
        assert.equal(protectedHeader.alg, alg);
        assert.equal(protectedHeader.kid, (await core.keys.active()).kid);
        const [h, p, s] = token.split(".");
        const forged = `${h}.${Buffer.from('{"sub":"admin"}').toString("base64url")}.${s}`;
        assert.notEqual(p, forged.split(".")[1]);
        await assert.rejects(jwtVerify(forged, jwks));
      } finally {
        await core.close();
      }
    });
  }
});
