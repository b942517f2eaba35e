// The template issuer must make what issueDeviceCertificate makes: the same TBSCertificate
// byte for byte (the signature is random), a certificate OpenSSL accepts under its strict
// X.509 checks, and the same refusals for bad CSRs.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, sign, verify, X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  CertificateError,
  createCertificateAuthority,
  createCertificateSigningRequest,
  createDeviceCertificateIssuer,
  FULL_ACCESS,
  generateDeviceKey,
  type Identity,
  type IssuerCrypto,
  issueDeviceCertificate,
  keyThumbprint,
  loadCertificateAuthority,
  verifyPeerCertificate,
} from "@meshauth/core";

const material = await createCertificateAuthority({ appId: "app-tpl", name: "Template" });
const ca = await loadCertificateAuthority(material);
const caKey = createPrivateKey({ key: Buffer.from(material.privateKeyPkcs8), format: "der", type: "pkcs8" });
const nodeCrypto: IssuerCrypto = {
  sign: (data) => sign("sha256", data, caKey),
  verify: (spki, data, signature) =>
    verify(
      "sha256",
      data,
      createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }),
      signature,
    ),
  digest: (alg, data) =>
    createHash(alg === "SHA-1" ? "sha1" : "sha256")
      .update(data)
      .digest(),
};

/** The TBSCertificate of a DER certificate (its first element). */
function tbsOf(der: Uint8Array): Buffer {
  const b = Buffer.from(der);
  let o = 1;
  const first = b[o] as number;
  o += first & 0x80 ? 1 + (first & 0x7f) : 1;
  const len2 = b[o + 1] as number;
  const header = len2 & 0x80 ? 2 + (len2 & 0x7f) : 2;
  let length = len2;
  if (len2 & 0x80) {
    length = 0;
    for (let i = 0; i < (len2 & 0x7f); i++) length = length * 256 + (b[o + 2 + i] as number);
  }
  return b.subarray(o, o + header + length);
}

const identity = (userId: string, peerKey: string): Identity => ({
  appId: "app-tpl",
  userId,
  peerKey,
  provider: "otp",
  permissions: FULL_ACCESS,
  userInfo: { email: `${userId}@example.com` },
  exp: Math.floor(Date.now() / 1000) + 3600,
});

describe("template device-certificate issuer", () => {
  for (const [label, crypto] of [
    ["node:crypto", nodeCrypto],
    ["WebCrypto", undefined],
  ] as const) {
    for (const userId of ["ada", "Zoë Lovelace", "user@example.com", "x".repeat(90)]) {
      test(`${label}: same TBSCertificate as issueDeviceCertificate, CSR mode (${userId.slice(0, 20)})`, async () => {
        const issuer = await createDeviceCertificateIssuer(ca, crypto);
        const keys = await generateDeviceKey();
        const csrPem = await createCertificateSigningRequest({ keys, commonName: userId });
        const checked = await issuer.verifyCsr(csrPem);
        const jkt = await keyThumbprint(keys.publicKey);
        assert.equal(checked.keyThumbprint, jkt);
        const now = new Date();
        const common = {
          identity: identity(userId, jkt),
          sessionId: "ses_1",
          serialNumber: "0badc0ffee",
          now,
        };
        const fast = await issuer.issue({ ...common, publicKeySpki: checked.publicKeySpki });
        const reference = await issueDeviceCertificate({ ...common, ca, csrPem });
        assert.deepEqual(tbsOf(fast.certificateDer), tbsOf(reference.certificateDer));
        assert.equal(fast.keyThumbprint, reference.keyThumbprint);
        assert.deepEqual(fast.publicKeyJwk, reference.publicKeyJwk);
        assert.deepEqual(fast.identity, reference.identity);
        assert.equal(fast.serialNumber, reference.serialNumber);
        assert.equal(fast.notAfter.getTime(), reference.notAfter.getTime());

        // Node (OpenSSL) parses it, the CA's signature verifies, and meshauth's verifier accepts it.
        const parsed = new X509Certificate(fast.certificatePem);
        assert.ok(parsed.verify(createPublicKey(caKey)));
        const verified = await verifyPeerCertificate({
          chain: [fast.certificateDer],
          trust: { type: "ca", certificatePem: material.certificatePem },
          appId: "app-tpl",
        });
        assert.equal(verified.identity.userId, userId);
        assert.equal(verified.certificate.sessionId, "ses_1");
      });
    }
  }

  test("OpenSSL verifies the certificate with -x509_strict for TLS client and server use", async () => {
    const issuer = await createDeviceCertificateIssuer(ca, nodeCrypto);
    const keys = await generateDeviceKey();
    const spki = new Uint8Array(await globalThis.crypto.subtle.exportKey("spki", keys.publicKey));
    const issued = await issuer.issue({
      identity: identity("ada", await keyThumbprint(keys.publicKey)),
      publicKeySpki: spki,
    });
    const dir = mkdtempSync(join(tmpdir(), "meshauth-tpl-"));
    writeFileSync(join(dir, "ca.pem"), material.certificatePem);
    writeFileSync(join(dir, "device.pem"), issued.certificatePem);
    for (const purpose of ["sslclient", "sslserver"]) {
      const r = spawnSync(
        "openssl",
        [
          "verify",
          "-x509_strict",
          "-purpose",
          purpose,
          "-CAfile",
          join(dir, "ca.pem"),
          join(dir, "device.pem"),
        ],
        { encoding: "utf8" },
      );
      assert.equal(r.status, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /OK/);
    }
  });

  test("a CSR with a bad signature, another key type or garbage is refused with the same reasons", async () => {
    const issuer = await createDeviceCertificateIssuer(ca, nodeCrypto);
    const keys = await generateDeviceKey();
    const pem = await createCertificateSigningRequest({ keys, commonName: "ada" });
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const tampered = Buffer.from(der);
    tampered.writeUInt8((tampered.at(-5) ?? 0) ^ 0x01, tampered.length - 5);
    await assert.rejects(
      issuer.verifyCsr(tampered),
      (e: unknown) => e instanceof CertificateError && e.reason === "bad_csr_signature",
    );
    await assert.rejects(
      issuer.verifyCsr(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])),
      (e: unknown) => e instanceof CertificateError && e.reason === "malformed",
    );
    const rsa = spawnSync(
      "openssl",
      [
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "/dev/null",
        "-subj",
        "/CN=x",
        "-outform",
        "PEM",
      ],
      { encoding: "utf8" },
    );
    await assert.rejects(
      issuer.verifyCsr(rsa.stdout),
      (e: unknown) => e instanceof CertificateError && e.reason === "unsupported_key",
    );
  });

  test("an identity of another app is refused", async () => {
    const issuer = await createDeviceCertificateIssuer(ca, nodeCrypto);
    const keys = await generateDeviceKey();
    const spki = new Uint8Array(await globalThis.crypto.subtle.exportKey("spki", keys.publicKey));
    await assert.rejects(
      issuer.issue({ identity: { ...identity("ada", "k"), appId: "other" }, publicKeySpki: spki }),
      (e: unknown) => e instanceof CertificateError && e.reason === "invalid_identity",
    );
  });
});
