import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import {
  type CertificateAuthority,
  CertificateError,
  createCertificateAuthority,
  createCertificateSigningRequest,
  derToPem,
  generateDeviceKey,
  IDENTITY_EXTENSION_MAX_BYTES,
  IDENTITY_EXTENSION_OID,
  type Identity,
  issueDeviceCertificate,
  keyThumbprint,
  loadCertificateAuthority,
  parseCertificatePem,
  pemToDer,
  readIdentityExtension,
  verifyCertificateSigningRequest,
} from "@meshauth/core";
import { openssl, scratchDir } from "./x509-helpers.js";

const HOUR = 3600;

function identityFor(appId: string, peerKey: string, overrides: Partial<Identity> = {}): Identity {
  return {
    appId,
    userId: "user 1/ä",
    peerKey,
    provider: "webhook:main",
    permissions: {
      read: { everything: false, queriesByCollection: { cars: ["_id.owner == 'u1'"] } },
      write: { everything: false, queriesByCollection: {} },
    },
    userInfo: { name: "Ada" },
    exp: Math.floor(Date.now() / 1000) + HOUR,
    ...overrides,
  };
}

function rejectsWith(reason: string) {
  return (error: unknown) => {
    assert.ok(error instanceof CertificateError, `expected CertificateError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    return true;
  };
}

describe("device certificates", () => {
  const scratch = scratchDir();
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let caPath: string;
  let otherCaPath: string;

  before(async () => {
    ca = await loadCertificateAuthority(await createCertificateAuthority({ appId: "app-1" }));
    otherCa = await loadCertificateAuthority(await createCertificateAuthority({ appId: "app-2" }));
    caPath = scratch.write("ca.pem", ca.certificatePem);
    otherCaPath = scratch.write("other-ca.pem", otherCa.certificatePem);
  });

  test("from a CSR: OpenSSL verifies it against its app's CA only, and shows its profile", async () => {
    const keys = await generateDeviceKey({ extractable: false });
    const peerKey = await keyThumbprint(keys.publicKey);
    const csrPem = await createCertificateSigningRequest({ keys, commonName: "ignored" });
    const issued = await issueDeviceCertificate({
      ca,
      identity: identityFor("app-1", peerKey),
      csrPem,
      sessionId: "s1",
    });
    assert.equal(issued.keyThumbprint, peerKey);
    assert.match(issued.serialNumber, /^[0-9a-f]{32}$/);

    const path = scratch.write("device.pem", issued.certificatePem);
    const ok = openssl(["verify", "-CAfile", caPath, "-purpose", "sslclient", path]);
    assert.equal(ok.status, 0, ok.stderr);
    const server = openssl(["verify", "-CAfile", caPath, "-purpose", "sslserver", path]);
    assert.equal(server.status, 0, server.stderr);
    const wrong = openssl(["verify", "-CAfile", otherCaPath, path]);
    assert.notEqual(wrong.status, 0);

    const text = openssl(["x509", "-in", path, "-noout", "-text"]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`URI:meshauth:device:app-1:user%201%2F%C3%A4:${peerKey}`));
    assert.ok(text.stdout.includes(IDENTITY_EXTENSION_OID), "openssl names the identity extension OID");
    assert.match(text.stdout, /"provider":"webhook:main"/);
    assert.match(text.stdout, /CA:FALSE/);
    assert.match(text.stdout, /Digital Signature/);
    assert.match(text.stdout, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text.stdout, /X509v3 Authority Key Identifier/);
    const serial = openssl(["x509", "-in", path, "-noout", "-serial"]);
    assert.equal(serial.stdout.trim().toLowerCase(), `serial=${issued.serialNumber}`);

    const read = readIdentityExtension(parseCertificatePem(issued.certificatePem));
    assert.deepEqual(read.identity, issued.identity);
    assert.equal(read.sessionId, "s1");
  });

  test("validity ends at identity.exp and never later", async () => {
    const keys = await generateDeviceKey();
    const exp = Math.floor(Date.now() / 1000) + HOUR;
    const identity = identityFor("app-1", await keyThumbprint(keys.publicKey), { exp });
    const issued = await issueDeviceCertificate({
      ca,
      identity,
      publicKey: keys.publicKey,
      notAfter: new Date((exp + 10 * HOUR) * 1000),
    });
    assert.equal(issued.notAfter.getTime(), exp * 1000);
    assert.equal(issued.identity.exp, exp);
    const shorter = await issueDeviceCertificate({
      ca,
      identity,
      publicKey: keys.publicKey,
      notAfter: new Date((exp - 60) * 1000),
    });
    assert.equal(shorter.identity.exp, exp - 60);
  });

  test("serial numbers are random, positive and unique", async () => {
    const keys = await generateDeviceKey();
    const identity = identityFor("app-1", await keyThumbprint(keys.publicKey));
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const issued = await issueDeviceCertificate({ ca, identity, publicKey: keys.publicKey });
      assert.ok(Number.parseInt(issued.serialNumber.slice(0, 2), 16) < 0x80);
      assert.ok(issued.serialNumber.length >= 16);
      serials.add(issued.serialNumber);
    }
    assert.equal(serials.size, 20);
  });

  test("refuses an identity of another app, an expired identity, an oversized identity", async () => {
    const keys = await generateDeviceKey();
    const peerKey = await keyThumbprint(keys.publicKey);
    await assert.rejects(
      issueDeviceCertificate({ ca, identity: identityFor("app-2", peerKey), publicKey: keys.publicKey }),
      rejectsWith("invalid_identity"),
    );
    await assert.rejects(
      issueDeviceCertificate({
        ca,
        identity: identityFor("app-1", peerKey, { exp: Math.floor(Date.now() / 1000) - 1 }),
        publicKey: keys.publicKey,
      }),
      rejectsWith("invalid_identity"),
    );
    await assert.rejects(
      issueDeviceCertificate({
        ca,
        identity: identityFor("app-1", peerKey, {
          userInfo: { blob: "x".repeat(IDENTITY_EXTENSION_MAX_BYTES) },
        }),
        publicKey: keys.publicKey,
      }),
      rejectsWith("identity_too_large"),
    );
  });

  test("CSR with a bad signature is refused", async () => {
    const keys = await generateDeviceKey();
    const csrPem = await createCertificateSigningRequest({ keys });
    const bytes = Buffer.from(pemToDer(csrPem, "CERTIFICATE REQUEST"));
    // Flip one bit in the last byte: the ECDSA signature's s value.
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01;
    await assert.rejects(
      issueDeviceCertificate({
        ca,
        identity: identityFor("app-1", await keyThumbprint(keys.publicKey)),
        csrPem: derToPem(bytes, "CERTIFICATE REQUEST"),
      }),
      rejectsWith("bad_csr_signature"),
    );
  });

  test("CSR for a key that is not P-256 is refused (openssl RSA and P-384 requests)", async () => {
    const peerKey = "x".repeat(43);
    for (const keyArgs of [
      ["-newkey", "rsa:2048"],
      ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
    ]) {
      const made = openssl(["req", "-new", ...keyArgs, "-nodes", "-subj", "/CN=x", "-keyout", "/dev/null"]);
      assert.equal(made.status, 0, made.stderr);
      await assert.rejects(
        issueDeviceCertificate({ ca, identity: identityFor("app-1", peerKey), csrPem: made.stdout }),
        rejectsWith("unsupported_key"),
      );
    }
  });

  test("an openssl-made P-256 CSR is accepted and its thumbprint reported", async () => {
    const keyPath = scratch.write("p256.key", "");
    const made = openssl([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-subj",
      "/CN=x",
      "-keyout",
      keyPath,
    ]);
    assert.equal(made.status, 0, made.stderr);
    const verified = await verifyCertificateSigningRequest(made.stdout);
    const issued = await issueDeviceCertificate({
      ca,
      identity: identityFor("app-1", verified.keyThumbprint),
      csrPem: made.stdout,
    });
    assert.equal(issued.keyThumbprint, verified.keyThumbprint);
    const certKey = openssl(["x509", "-noout", "-pubkey"], issued.certificatePem).stdout;
    assert.equal(certKey, openssl(["pkey", "-in", keyPath, "-pubout"]).stdout);
  });
});
