import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  createCertificateAuthority,
  createSharedKeyRootCertificate,
  describeCertificate,
  generateDeviceKey,
  generateSharedKey,
  inspectCertificate,
  issueDeviceCertificate,
  issueSharedKeyCertificate,
  keyThumbprint,
  loadCertificateAuthority,
  loadSharedKey,
} from "@meshauth/core";
import { openssl } from "./x509-helpers.js";

describe("describeCertificate", () => {
  test("a device certificate in plain words: issuer, subject, identity, permissions, validity, serial", async () => {
    const material = await createCertificateAuthority({ appId: "app-1", name: "Cars" });
    const ca = await loadCertificateAuthority(material);
    const keys = await generateDeviceKey();
    const peerKey = await keyThumbprint(keys.publicKey);
    const issued = await issueDeviceCertificate({
      ca,
      publicKey: keys.publicKey,
      sessionId: "s-9",
      identity: {
        appId: "app-1",
        userId: "ada",
        peerKey,
        provider: "otp",
        permissions: {
          read: { everything: true, queriesByCollection: {} },
          write: {
            everything: false,
            queriesByCollection: { cars: ["_id.owner == 'ada'", "_id.shared == true"] },
          },
        },
        userInfo: { team: "blue" },
        exp: Math.floor(Date.now() / 1000) + 3600,
      },
    });
    const text = await describeCertificate(issued.certificatePem);
    assert.match(text, /Kind: +meshauth device certificate issued by an app CA/);
    assert.match(text, /Issuer: +CN=meshauth app app-1 CA, O=Cars/);
    assert.match(text, /Subject: +CN=ada/);
    assert.ok(text.includes(`Serial:      ${issued.serialNumber}`));
    assert.match(text, /\(valid\)/);
    assert.ok(text.includes(`peer key:  ${peerKey} (the certified key)`));
    assert.match(text, /provider: +otp/);
    assert.match(text, /session: +s-9/);
    assert.match(text, /read: every collection/);
    assert.match(text, /cars: documents where \(_id\.owner == 'ada'\) or \(_id\.shared == true\)/);
    assert.match(text, /user info: \{"team":"blue"\}/);
    const fingerprint = openssl(["x509", "-noout", "-fingerprint", "-sha256"], issued.certificatePem).stdout;
    assert.ok(text.includes(fingerprint.split("=")[1]!.trim().replace(/:/g, "").toLowerCase()));

    const later = await describeCertificate(issued.certificateDer, {
      now: new Date(Date.now() + 2 * 3600_000),
    });
    assert.match(later, /\(expired\)/);

    assert.equal((await inspectCertificate(material.certificatePem)).kind, "app-ca");
    assert.match(await describeCertificate(material.certificatePem), /CA for app: +app-1/);
  });

  test("shared-key certificates and roots say so", async () => {
    const sharedKey = await loadSharedKey(await generateSharedKey());
    const keys = await generateDeviceKey();
    const issued = await issueSharedKeyCertificate({
      sharedKey,
      appId: "app-1",
      devicePublicKey: keys.publicKey,
    });
    const device = await inspectCertificate(issued.certificatePem);
    assert.equal(device.kind, "device-from-shared-key");
    assert.equal(device.sharedKeyThumbprint, sharedKey.thumbprint);
    assert.match(await describeCertificate(issued.certificatePem), /write: every collection/);
    const root = await inspectCertificate(await createSharedKeyRootCertificate(sharedKey));
    assert.equal(root.kind, "shared-key-root");
    assert.equal(root.isCa, true);
  });

  test("a foreign certificate is described, not refused", async () => {
    const made = openssl([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      "/CN=example.com",
      "-keyout",
      "/dev/null",
      "-days",
      "1",
    ]);
    assert.equal(made.status, 0, made.stderr);
    const text = await describeCertificate(made.stdout);
    assert.match(text, /not a meshauth certificate/);
    assert.match(text, /Key: +RSA 2048/);
  });
});
