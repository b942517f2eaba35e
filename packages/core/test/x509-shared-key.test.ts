import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CertificateError,
  createSharedKeyRootCertificate,
  FULL_ACCESS,
  generateDeviceKey,
  generateSharedKey,
  issueSharedKeyCertificate,
  keyThumbprint,
  loadSharedKey,
  parseCertificatePem,
  readIdentityExtension,
} from "@meshauth/core";
import { openssl, opensslBytes, scratchDir, shell } from "./x509-helpers.js";

function rejectsWith(reason: string, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof CertificateError, `expected CertificateError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

/** A shared key made with the command in Ditto's docs (curve and options varied for the error cases). */
function opensslSharedKey(extraGenpkeyArgs = "", curve = "P-256"): string {
  return shell(
    `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:${curve} ${extraGenpkeyArgs} | openssl pkcs8 -topk8 -nocrypt -outform der | base64 -w 0`,
  );
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

describe("shared key", () => {
  const scratch = scratchDir();

  test("an openssl-generated shared key loads (named curve)", async () => {
    const text = opensslSharedKey();
    const key = await loadSharedKey(text);
    assert.equal(key.publicKeyJwk.crv, "P-256");
    // The public key is the one openssl derives from the private key.
    const keyDer = scratch.write("shared.der", Buffer.from(text, "base64"));
    const fromOpenssl = opensslBytes(["pkey", "-inform", "der", "-in", keyDer, "-pubout", "-outform", "der"]);
    const spki = new Uint8Array(await crypto.subtle.exportKey("spki", key.publicKey));
    assert.deepEqual(fromOpenssl, Buffer.from(spki));
  });

  test("an openssl-generated shared key with explicit curve parameters loads", async () => {
    const text = opensslSharedKey("-pkeyopt ec_param_enc:explicit");
    const asn = openssl(["asn1parse", "-inform", "der"], Buffer.from(text, "base64"));
    assert.equal(asn.status, 0, asn.stderr);
    assert.match(asn.stdout, /prime-field/, "the key really has explicit parameters");
    const key = await loadSharedKey(text);
    assert.equal(key.publicKeyJwk.crv, "P-256");
  });

  test("generateSharedKey makes the same format openssl reads", async () => {
    const text = await generateSharedKey();
    assert.match(text, /^[A-Za-z0-9+/]+=*$/);
    const parsed = openssl(["pkey", "-inform", "der", "-noout", "-text"], Buffer.from(text, "base64"));
    assert.equal(parsed.status, 0, parsed.stderr);
    assert.match(parsed.stdout, /NIST CURVE: P-256/);
    await loadSharedKey(text);
  });

  test("clear errors for non-base64, non-PKCS#8 and non-P-256 keys", async () => {
    await assert.rejects(
      loadSharedKey("not base64 at all!"),
      rejectsWith("invalid_shared_key", /not base64/),
    );
    await assert.rejects(loadSharedKey(""), rejectsWith("invalid_shared_key", /empty/));
    await assert.rejects(
      loadSharedKey(btoa("hello world!")),
      rejectsWith("invalid_shared_key", /not a PKCS#8/),
    );
    const sec1 = shell(
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl ec -outform der | base64 -w 0",
    );
    await assert.rejects(loadSharedKey(sec1), rejectsWith("invalid_shared_key", /SEC 1.*-topk8/));
    await assert.rejects(
      loadSharedKey(opensslSharedKey("", "P-384")),
      rejectsWith("invalid_shared_key", /P-384, not P-256/),
    );
    const rsa = shell(
      "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 | openssl pkcs8 -topk8 -nocrypt -outform der | base64 -w 0",
    );
    await assert.rejects(loadSharedKey(rsa), rejectsWith("invalid_shared_key", /RSA/));
    const ed = opensslBytes(["genpkey", "-algorithm", "ED25519", "-outform", "der"]);
    await assert.rejects(loadSharedKey(b64(ed)), rejectsWith("invalid_shared_key", /Ed25519/));
  });

  test("a device certifies itself with the shared key; OpenSSL verifies it with the shared key's root only", async () => {
    const sharedKey = await loadSharedKey(opensslSharedKey());
    const otherKey = await loadSharedKey(await generateSharedKey());
    const device = await generateDeviceKey({ extractable: false });
    const issued = await issueSharedKeyCertificate({
      sharedKey,
      appId: "app-1",
      devicePublicKey: device.publicKey,
      deviceId: "tablet-7",
    });
    const peerKey = await keyThumbprint(device.publicKey);
    assert.deepEqual(issued.identity, {
      appId: "app-1",
      userId: "tablet-7",
      peerKey,
      provider: "shared-key",
      permissions: FULL_ACCESS,
      exp: issued.identity.exp,
    });
    const certificate = parseCertificatePem(issued.certificatePem);
    assert.equal(certificate.issuer, `CN=meshauth shared key ${sharedKey.thumbprint}`);
    assert.deepEqual(readIdentityExtension(certificate).identity, issued.identity);

    const leaf = scratch.write("shared-device.pem", issued.certificatePem);
    // A root made later, by another device, from the same key.
    const root = scratch.write("shared-root.pem", await createSharedKeyRootCertificate(sharedKey));
    const ok = openssl(["verify", "-CAfile", root, "-purpose", "sslclient", leaf]);
    assert.equal(ok.status, 0, ok.stderr);
    const otherRoot = scratch.write("other-root.pem", await createSharedKeyRootCertificate(otherKey));
    assert.notEqual(openssl(["verify", "-CAfile", otherRoot, leaf]).status, 0);
  });
});
