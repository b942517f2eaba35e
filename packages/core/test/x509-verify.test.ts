import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import {
  type CertificateAuthority,
  type CertificateAuthorityMaterial,
  CertificateError,
  createCertificateAuthority,
  createCertificateSigningRequest,
  derToPem,
  emptyRevocationList,
  generateDeviceKey,
  generateSharedKey,
  IDENTITY_EXTENSION_OID,
  type Identity,
  type IssuedDeviceCertificate,
  issueDeviceCertificate,
  issueSharedKeyCertificate,
  keyThumbprint,
  loadCertificateAuthority,
  loadSharedKey,
  pemToDer,
  type RevocationList,
  signRevocationList,
  verifyPeerCertificate,
  verifyRevocationList,
} from "@meshauth/core";
import { openssl, scratchDir } from "./x509-helpers.js";

const HOUR = 3600;

function rejectsWith(reason: string) {
  return (error: unknown) => {
    assert.ok(error instanceof CertificateError, `expected CertificateError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    return true;
  };
}

function identityFor(
  appId: string,
  userId: string,
  peerKey: string,
  extra: Partial<Identity> = {},
): Identity {
  return {
    appId,
    userId,
    peerKey,
    provider: "oidc:corp",
    permissions: {
      read: { everything: false, queriesByCollection: { cars: ["_id.owner == 'u1'"] } },
      write: { everything: false, queriesByCollection: { cars: ["_id.owner == 'u1'"] } },
    },
    userInfo: { name: "Ada" },
    exp: Math.floor(Date.now() / 1000) + HOUR,
    ...extra,
  };
}

async function device(ca: CertificateAuthority, userId: string, sessionId = `session-${userId}`) {
  const keys = await generateDeviceKey({ extractable: false });
  const peerKey = await keyThumbprint(keys.publicKey);
  const csrPem = await createCertificateSigningRequest({ keys });
  const issued = await issueDeviceCertificate({
    ca,
    identity: identityFor(ca.appId, userId, peerKey),
    csrPem,
    sessionId,
  });
  return { keys, peerKey, issued };
}

/** DER of a UTF8String, as hex, for openssl's `DER:` extension syntax. */
function utf8StringHex(text: string): string {
  const bytes = Buffer.from(text, "utf8");
  const length =
    bytes.length < 0x80
      ? Buffer.from([bytes.length])
      : Buffer.from([0x82, bytes.length >> 8, bytes.length & 0xff]);
  return Buffer.concat([Buffer.from([0x0c]), length, bytes]).toString("hex");
}

describe("peer certificate verification", () => {
  const scratch = scratchDir();
  let material: CertificateAuthorityMaterial;
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let alice: Awaited<ReturnType<typeof device>>;
  let bob: Awaited<ReturnType<typeof device>>;
  const trust = () => ({ type: "ca" as const, certificatePem: ca.certificatePem });

  before(async () => {
    material = await createCertificateAuthority({ appId: "app-1" });
    ca = await loadCertificateAuthority(material);
    otherCa = await loadCertificateAuthority(await createCertificateAuthority({ appId: "app-2" }));
    alice = await device(ca, "alice");
    bob = await device(ca, "bob");
  });

  test("two devices of one app accept each other", async () => {
    for (const peer of [alice, bob]) {
      const verified = await verifyPeerCertificate({
        chain: [peer.issued.certificatePem],
        trust: trust(),
        appId: "app-1",
      });
      assert.deepEqual(verified.identity, peer.issued.identity);
      assert.equal(verified.certificate.keyThumbprint, peer.peerKey);
      assert.equal(verified.certificate.serialNumber, peer.issued.serialNumber);
      assert.equal(verified.certificate.sessionId, `session-${peer.issued.identity.userId}`);
      assert.equal(verified.certificate.trust, "ca");
    }
    // DER straight from a TLS socket (`getPeerX509Certificate().raw`), with the CA appended.
    const verified = await verifyPeerCertificate({
      chain: [alice.issued.certificateDer, pemToDer(ca.certificatePem)],
      trust: trust(),
      appId: "app-1",
    });
    assert.equal(verified.identity.userId, "alice");
  });

  test("a device of another app's CA is refused", async () => {
    const stranger = await device(otherCa, "mallory");
    await assert.rejects(
      verifyPeerCertificate({ chain: [stranger.issued.certificatePem], trust: trust(), appId: "app-1" }),
      rejectsWith("untrusted_issuer"),
    );
    // The same certificate is fine for its own app: the refusal is about the anchor.
    await verifyPeerCertificate({
      chain: [stranger.issued.certificatePem],
      trust: { type: "ca", certificatePem: otherCa.certificatePem },
      appId: "app-2",
    });
  });

  test("refused after expiry and before validity (injected clock)", async () => {
    const { notBefore, notAfter } = alice.issued;
    const chain = [alice.issued.certificatePem];
    await assert.rejects(
      verifyPeerCertificate({
        chain,
        trust: trust(),
        appId: "app-1",
        now: new Date(notAfter.getTime() + 2 * 60_000),
      }),
      rejectsWith("expired"),
    );
    await assert.rejects(
      verifyPeerCertificate({
        chain,
        trust: trust(),
        appId: "app-1",
        now: new Date(notBefore.getTime() - 2 * 60_000),
      }),
      rejectsWith("not_yet_valid"),
    );
    // Inside the window, at both edges.
    await verifyPeerCertificate({ chain, trust: trust(), appId: "app-1", now: notBefore });
    await verifyPeerCertificate({ chain, trust: trust(), appId: "app-1", now: notAfter });
  });

  test("a tampered certificate is refused", async () => {
    const der = Buffer.from(alice.issued.certificateDer);
    const at = der.indexOf(Buffer.from('"name":"Ada"'));
    assert.ok(at > 0);
    der.write('"name":"Eve"', at);
    await assert.rejects(
      verifyPeerCertificate({ chain: [der], trust: trust(), appId: "app-1" }),
      rejectsWith("untrusted_issuer"),
    );
  });

  test("garbage and CA certificates are refused", async () => {
    await assert.rejects(
      verifyPeerCertificate({
        chain: [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])],
        trust: trust(),
        appId: "app-1",
      }),
      rejectsWith("malformed"),
    );
    await assert.rejects(
      verifyPeerCertificate({ chain: [], trust: trust(), appId: "app-1" }),
      rejectsWith("malformed"),
    );
    await assert.rejects(
      verifyPeerCertificate({ chain: [ca.certificatePem], trust: trust(), appId: "app-1" }),
      rejectsWith("not_a_device_certificate"),
    );
  });

  test("a revoked device, user, session or serial is refused; others still pass", async () => {
    const cases: Array<[Partial<RevocationList["entries"]>, string]> = [
      [{ peerKeys: [alice.peerKey] }, "peer key"],
      [{ userIds: ["alice"] }, "user"],
      [{ sessionIds: ["session-alice"] }, "session"],
      [{ serials: [`00${alice.issued.serialNumber.toUpperCase()}`] }, "serial"],
    ];
    for (const [entries, what] of cases) {
      const list: RevocationList = {
        ...emptyRevocationList("app-1"),
        version: 1,
        entries: { ...emptyRevocationList("app-1").entries, ...entries },
      };
      await assert.rejects(
        verifyPeerCertificate({
          chain: [alice.issued.certificatePem],
          trust: trust(),
          appId: "app-1",
          revocations: list,
        }),
        rejectsWith("revoked"),
        what,
      );
      await verifyPeerCertificate({
        chain: [bob.issued.certificatePem],
        trust: trust(),
        appId: "app-1",
        revocations: list,
      });
    }
  });

  test("a hub-signed revocation list, passed on as a JWS, revokes offline", async () => {
    const hubKey = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ]);
    const jwk = { ...(await crypto.subtle.exportKey("jwk", hubKey.publicKey)), kid: "k1", alg: "ES256" };
    const jws = await signRevocationList(
      {
        appId: "app-1",
        version: 3,
        issuedAt: 1_700_000_000,
        entries: { userIds: [], peerKeys: [bob.peerKey], sessionIds: [], serials: [] },
      },
      hubKey.privateKey,
      "k1",
    );
    const revocations = await verifyRevocationList(jws, { keys: [jwk] }, { appId: "app-1" });
    await assert.rejects(
      verifyPeerCertificate({
        chain: [bob.issued.certificatePem],
        trust: trust(),
        appId: "app-1",
        revocations,
      }),
      rejectsWith("revoked"),
    );
  });

  describe("certificates made by OpenSSL with the CA's key", () => {
    let caPath: string;
    let caKeyPath: string;
    let csrPath: string;
    let peerKey: string;

    before(async () => {
      caPath = scratch.write("ca.pem", material.certificatePem);
      caKeyPath = scratch.write("ca.key", derToPem(material.privateKeyPkcs8, "PRIVATE KEY"));
      const keys = await generateDeviceKey();
      peerKey = await keyThumbprint(keys.publicKey);
      csrPath = scratch.write("device.csr", await createCertificateSigningRequest({ keys }));
    });

    /** Signs the device CSR with openssl, with the given extension lines. */
    function opensslIssue(name: string, extensions: string[], subject = "/CN=alice"): string {
      const ext = scratch.write(`${name}.cnf`, `${extensions.join("\n")}\n`);
      const out = `${scratch.dir}/${name}.pem`;
      const made = openssl([
        "x509",
        "-req",
        "-in",
        csrPath,
        "-CA",
        caPath,
        "-CAkey",
        caKeyPath,
        "-days",
        "1",
        "-sha256",
        "-set_serial",
        "0x7a11ce",
        "-subj",
        subject,
        "-extfile",
        ext,
        "-out",
        out,
      ]);
      assert.equal(made.status, 0, made.stderr);
      return openssl(["x509", "-in", out]).stdout;
    }

    function profile(
      identity: Identity,
      uri = `meshauth:device:${identity.appId}:${identity.userId}:${identity.peerKey}`,
    ): string[] {
      const json = JSON.stringify({ v: 1, ...identity });
      return [
        "basicConstraints = critical, CA:FALSE",
        "keyUsage = critical, digitalSignature",
        "extendedKeyUsage = serverAuth, clientAuth",
        `subjectAltName = URI:${uri}`,
        `${IDENTITY_EXTENSION_OID} = DER:${utf8StringHex(json)}`,
      ];
    }

    test("a well-formed one is accepted (interoperable format)", async () => {
      const pem = opensslIssue("good", profile(identityFor("app-1", "alice", peerKey)));
      const verified = await verifyPeerCertificate({ chain: [pem], trust: trust(), appId: "app-1" });
      assert.equal(verified.identity.userId, "alice");
      assert.equal(verified.certificate.serialNumber, "7a11ce");
    });

    test("the certificate's own end counts even when the identity would last longer", async () => {
      const identity = identityFor("app-1", "alice", peerKey, {
        exp: Math.floor(Date.now() / 1000) + 30 * 24 * HOUR,
      });
      const pem = opensslIssue("long-identity", profile(identity));
      const notAfter = new Date(
        openssl(["x509", "-noout", "-enddate"], pem).stdout.trim().replace("notAfter=", ""),
      );
      const verified = await verifyPeerCertificate({ chain: [pem], trust: trust(), appId: "app-1" });
      assert.equal(verified.identity.exp, notAfter.getTime() / 1000, "identity.exp is capped at notAfter");
      await assert.rejects(
        verifyPeerCertificate({
          chain: [pem],
          trust: trust(),
          appId: "app-1",
          now: new Date(notAfter.getTime() + 2 * 60_000),
        }),
        rejectsWith("expired"),
      );
    });

    test("one whose identity says another app is refused", async () => {
      const pem = opensslIssue("other-app", profile(identityFor("app-2", "alice", peerKey)));
      await assert.rejects(
        verifyPeerCertificate({ chain: [pem], trust: trust(), appId: "app-1" }),
        rejectsWith("wrong_app"),
      );
    });

    test("identity missing, inconsistent with the SAN or the CN, or with invalid queries is refused", async () => {
      const identity = identityFor("app-1", "alice", peerKey);
      const variants: Array<[string, string[], string?]> = [
        ["no-identity", profile(identity).slice(0, 4)],
        ["san-mismatch", profile(identity, `meshauth:device:app-1:bob:${peerKey}`)],
        ["old-san-form", profile(identity, `meshauth://app-1/alice/${peerKey}`)],
        ["cn-mismatch", profile(identity), "/CN=bob"],
        [
          "bad-query",
          profile(
            identityFor("app-1", "alice", peerKey, {
              permissions: {
                read: { everything: false, queriesByCollection: { cars: ["_id.owner =="] } },
                write: { everything: false, queriesByCollection: {} },
              },
            }),
          ),
        ],
        ["bad-provider", profile(identityFor("app-1", "alice", peerKey, { provider: "shared-key" }))],
      ];
      for (const [name, extensions, subject] of variants) {
        const pem = opensslIssue(name, extensions, subject);
        await assert.rejects(
          verifyPeerCertificate({ chain: [pem], trust: trust(), appId: "app-1" }),
          rejectsWith("bad_identity"),
          name,
        );
      }
    });

    test("a CA certificate or a server-only certificate is not a device certificate", async () => {
      const identity = identityFor("app-1", "alice", peerKey);
      const asCa = profile(identity).map((l) =>
        l.startsWith("basicConstraints") ? "basicConstraints = critical, CA:TRUE" : l,
      );
      const serverOnly = profile(identity).map((l) =>
        l.startsWith("extendedKeyUsage") ? "extendedKeyUsage = serverAuth" : l,
      );
      for (const [name, extensions] of [
        ["as-ca", asCa],
        ["server-only", serverOnly],
      ] as const) {
        await assert.rejects(
          verifyPeerCertificate({ chain: [opensslIssue(name, extensions)], trust: trust(), appId: "app-1" }),
          rejectsWith("not_a_device_certificate"),
          name,
        );
      }
    });
  });
});

describe("shared-key peer verification", () => {
  let issued: IssuedDeviceCertificate;
  let sharedPublic: JsonWebKey;

  before(async () => {
    const sharedKey = await loadSharedKey(await generateSharedKey());
    sharedPublic = sharedKey.publicKeyJwk;
    const keys = await generateDeviceKey({ extractable: false });
    issued = await issueSharedKeyCertificate({ sharedKey, appId: "app-1", devicePublicKey: keys.publicKey });
  });

  test("accepted with the shared key's public key as the only anchor", async () => {
    const verified = await verifyPeerCertificate({
      chain: [issued.certificatePem],
      trust: { type: "shared-key", publicKey: sharedPublic },
      appId: "app-1",
    });
    assert.equal(verified.identity.provider, "shared-key");
    assert.equal(verified.identity.permissions.read.everything, true);
    assert.equal(verified.certificate.trust, "shared-key");
  });

  test("refused for a certificate signed by a different shared key", async () => {
    const other = await loadSharedKey(await generateSharedKey());
    await assert.rejects(
      verifyPeerCertificate({
        chain: [issued.certificatePem],
        trust: { type: "shared-key", publicKey: other.publicKey },
        appId: "app-1",
      }),
      rejectsWith("untrusted_issuer"),
    );
  });

  test("refused when another key signs under this key's issuer name", async () => {
    const real = await loadSharedKey(await generateSharedKey());
    const forger = await loadSharedKey(await generateSharedKey());
    const keys = await generateDeviceKey();
    const forged = await issueSharedKeyCertificate({
      sharedKey: { ...forger, issuerName: real.issuerName, keyId: real.keyId },
      appId: "app-1",
      devicePublicKey: keys.publicKey,
    });
    await assert.rejects(
      verifyPeerCertificate({
        chain: [forged.certificatePem],
        trust: { type: "shared-key", publicKey: real.publicKey },
        appId: "app-1",
      }),
      rejectsWith("untrusted_issuer"),
    );
  });

  test("refused when the right key signs under another issuer name", async () => {
    const real = await loadSharedKey(await generateSharedKey());
    const other = await loadSharedKey(await generateSharedKey());
    const keys = await generateDeviceKey();
    const misnamed = await issueSharedKeyCertificate({
      sharedKey: { ...real, issuerName: other.issuerName },
      appId: "app-1",
      devicePublicKey: keys.publicKey,
    });
    await assert.rejects(
      verifyPeerCertificate({
        chain: [misnamed.certificatePem],
        trust: { type: "shared-key", publicKey: real.publicKey },
        appId: "app-1",
      }),
      rejectsWith("untrusted_issuer"),
    );
  });

  test("refused for another app", async () => {
    await assert.rejects(
      verifyPeerCertificate({
        chain: [issued.certificatePem],
        trust: { type: "shared-key", publicKey: sharedPublic },
        appId: "app-2",
      }),
      rejectsWith("wrong_app"),
    );
  });
});
