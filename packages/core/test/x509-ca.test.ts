import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CertificateError,
  certificateAuthorityAppId,
  createCertificateAuthority,
  derToPem,
  loadCertificateAuthority,
  parseCertificatePem,
} from "@meshauth/core";
import { openssl, scratchDir } from "./x509-helpers.js";

describe("certificate authority", () => {
  const scratch = scratchDir();

  test("is a P-256 self-signed root for one app that OpenSSL accepts", async () => {
    const material = await createCertificateAuthority({ appId: "app-1", name: "Cars" });
    const certificate = parseCertificatePem(material.certificatePem);
    assert.equal(certificateAuthorityAppId(certificate), "app-1");
    assert.equal(certificate.subject, certificate.issuer);
    assert.ok(material.privateKeyPkcs8 instanceof Uint8Array);
    assert.equal(material.publicKeyJwk.crv, "P-256");

    const path = scratch.write("ca.pem", material.certificatePem);
    const text = openssl(["x509", "-in", path, "-noout", "-text"]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /Subject: CN ?= ?meshauth app app-1 CA, O ?= ?Cars/);
    assert.match(text.stdout, /CA:TRUE, pathlen:0/);
    assert.match(text.stdout, /Certificate Sign, CRL Sign/);
    assert.match(text.stdout, /URI:meshauth:app:app-1/);
    assert.match(text.stdout, /NIST CURVE: P-256/);
    assert.match(text.stdout, /ecdsa-with-SHA256/);
    assert.match(text.stdout, /X509v3 Subject Key Identifier/);
    // A root verifies against itself.
    const verify = openssl(["verify", "-CAfile", path, path]);
    assert.equal(verify.status, 0, verify.stderr);

    const key = scratch.write("ca.key", derToPem(material.privateKeyPkcs8, "PRIVATE KEY"));
    const match = openssl(["x509", "-in", path, "-noout", "-pubkey"]);
    const fromKey = openssl(["pkey", "-in", key, "-pubout"]);
    assert.equal(match.stdout, fromKey.stdout);
  });

  test("validity defaults to ten years", async () => {
    const now = new Date("2030-01-01T00:00:00Z");
    const material = await createCertificateAuthority({ appId: "a", now });
    assert.equal(material.notAfter.toISOString(), "2040-01-01T00:00:00.000Z");
  });

  test("loads with its key and signs; refuses another CA's key", async () => {
    const one = await createCertificateAuthority({ appId: "one" });
    const two = await createCertificateAuthority({ appId: "two" });
    const ca = await loadCertificateAuthority(one);
    assert.equal(ca.appId, "one");
    assert.equal(ca.privateKey.extractable, false);
    const data = new TextEncoder().encode("x");
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, ca.privateKey, data);
    assert.ok(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, ca.publicKey, signature, data));

    await assert.rejects(
      loadCertificateAuthority({ certificatePem: one.certificatePem, privateKeyPkcs8: two.privateKeyPkcs8 }),
      (error: unknown) => error instanceof CertificateError && error.reason === "invalid_ca",
    );
  });

  test("refuses an empty app ID", async () => {
    await assert.rejects(createCertificateAuthority({ appId: "" }), CertificateError);
  });
});
