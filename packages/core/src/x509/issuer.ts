// A device-certificate issuer for one CA that does the per-CA work once: the issuer name,
// the fixed extensions (basicConstraints, keyUsage, extKeyUsage, AKI) and the algorithm
// identifiers are DER computed at creation, from the same profile issueDeviceCertificate
// uses; each certificate then only encodes its own fields (serial, validity, CN, key,
// SKI, SAN, identity extension) and is signed. The byte layout is issueDeviceCertificate's,
// so both give the same TBSCertificate for the same inputs. The hashing and signing are
// pluggable: WebCrypto by default (browsers), node:crypto on a hub.
import type { Identity } from "../identity.js";
import type { RawExtension } from "./builder.js";
import { normalizeSerial, randomSerialNumber, toBase64, toBytes } from "./bytes.js";
import type { CertificateAuthority } from "./ca.js";
import { concat, DerError, encodeOidContents, encodeTlv, readChildren, readOnly, TAG } from "./der.js";
import { deviceExtensions, type IssuedDeviceCertificate, validity } from "./device.js";
import { CertificateError } from "./errors.js";
import { encodeIdentityExtension } from "./identity-extension.js";
import { ES256_SIGNING } from "./keys.js";
import { deviceCommonName, deviceUri } from "./names.js";
import { pemToDer } from "./pem.js";

/** The crypto an issuer needs; every function may be synchronous. */
export interface IssuerCrypto {
  /** ECDSA P-256 / SHA-256 signature of `data` by the CA key, DER (ECDSA-Sig-Value). */
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** Whether `signature` (DER) is a P-256 / SHA-256 signature of `data` by the key in `spki`. */
  verify(spki: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean | Promise<boolean>;
  digest(algorithm: "SHA-1" | "SHA-256", data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

export interface TemplateIssueOptions {
  identity: Identity;
  /** The device's P-256 public key, SubjectPublicKeyInfo DER (from `verifyCsr` or a key export). */
  publicKeySpki: Uint8Array;
  sessionId?: string;
  notBefore?: Date;
  notAfter?: Date;
  serialNumber?: string;
  now?: Date;
}

export interface DeviceCertificateIssuer {
  /** Checks a PKCS#10 CSR (PEM or DER) as verifyCertificateSigningRequest does; returns its key. */
  verifyCsr(csr: string | Uint8Array): Promise<{ publicKeySpki: Uint8Array; keyThumbprint: string }>;
  issue(options: TemplateIssueOptions): Promise<IssuedDeviceCertificate>;
}

const ECDSA_WITH_SHA256_OID = "1.2.840.10045.4.3.2";
const ECDSA_WITH_SHA256 = encodeTlv(
  TAG.SEQUENCE,
  encodeTlv(TAG.OID, encodeOidContents(ECDSA_WITH_SHA256_OID)),
);
/** SubjectPublicKeyInfo of a P-256 key up to the point (id-ecPublicKey, prime256v1, BIT STRING header). */
const P256_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
  0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
]);
const V3 = encodeTlv(TAG.CONTEXT_0, encodeTlv(TAG.INTEGER, new Uint8Array([2])));
const SKI_OID = encodeTlv(TAG.OID, encodeOidContents("2.5.29.14"));
const SAN_OID = encodeTlv(TAG.OID, encodeOidContents("2.5.29.17"));
const CN_OID = encodeTlv(TAG.OID, encodeOidContents("2.5.4.3"));
// X.520 PrintableString characters; other names are UTF8String (as @peculiar/x509 encodes them).
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
const utf8 = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function isP256Spki(spki: Uint8Array): boolean {
  if (spki.length !== 91) return false;
  for (let i = 0; i < P256_SPKI_PREFIX.length; i++) if (spki[i] !== P256_SPKI_PREFIX[i]) return false;
  return true;
}

function pointJwk(spki: Uint8Array): JsonWebKey {
  return {
    kty: "EC",
    crv: "P-256",
    x: base64url(spki.subarray(27, 59)),
    y: base64url(spki.subarray(59, 91)),
  };
}

function serialContents(hex: string): Uint8Array {
  const bytes = (hex.match(/../g) ?? []).map((h) => Number.parseInt(h, 16));
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  while (bytes.length > 1 && bytes[0] === 0 && ((bytes[1] ?? 0) & 0x80) === 0) bytes.shift();
  return new Uint8Array(bytes);
}

function encodeTime(date: Date): Uint8Array {
  const digits = date.toISOString().slice(0, 19).replace(/[-:T]/g, "");
  const year = date.getUTCFullYear();
  const utc = year >= 1950 && year < 2050;
  return encodeTlv(utc ? 0x17 : 0x18, utf8.encode(`${utc ? digits.slice(2) : digits}Z`));
}

function encodeExtension(e: RawExtension): Uint8Array {
  return encodeTlv(
    TAG.SEQUENCE,
    concat(
      encodeTlv(TAG.OID, encodeOidContents(e.oid)),
      e.critical ? new Uint8Array([0x01, 0x01, 0xff]) : new Uint8Array(0),
      encodeTlv(TAG.OCTET_STRING, e.value),
    ),
  );
}

function pem(der: Uint8Array): string {
  const b64 = toBase64(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

/** WebCrypto, for runtimes without anything faster. */
export function webIssuerCrypto(signingKey: CryptoKey): IssuerCrypto {
  const subtle = globalThis.crypto.subtle;
  return {
    async sign(data) {
      const raw = new Uint8Array(await subtle.sign(ES256_SIGNING, signingKey, toBytes(data)));
      return rawToDerSignature(raw);
    },
    async verify(spki, data, signature) {
      const raw = derToRawSignature(signature);
      if (!raw) return false;
      const key = await subtle.importKey(
        "spki",
        toBytes(spki),
        { name: "ECDSA", namedCurve: "P-256" },
        false,
        ["verify"],
      );
      return subtle.verify(ES256_SIGNING, key, raw, toBytes(data));
    },
    async digest(algorithm, data) {
      return new Uint8Array(await subtle.digest(algorithm, toBytes(data)));
    },
  };
}

function derInteger(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  return encodeTlv(TAG.INTEGER, (trimmed[0] ?? 0) & 0x80 ? concat(new Uint8Array([0]), trimmed) : trimmed);
}

function rawToDerSignature(raw: Uint8Array): Uint8Array {
  return encodeTlv(TAG.SEQUENCE, concat(derInteger(raw.subarray(0, 32)), derInteger(raw.subarray(32, 64))));
}

function derToRawSignature(der: Uint8Array): Uint8Array<ArrayBuffer> | undefined {
  try {
    const [r, s, extra] = readChildren(readOnly(toBytes(der), TAG.SEQUENCE).contents);
    if (!r || !s || extra || r.tag !== TAG.INTEGER || s.tag !== TAG.INTEGER) return undefined;
    const out = new Uint8Array(64);
    for (const [i, n] of [r.contents, s.contents].entries()) {
      const v = n[0] === 0 ? n.subarray(1) : n;
      if (v.length > 32) return undefined;
      out.set(v, i * 32 + 32 - v.length);
    }
    return out;
  } catch {
    return undefined;
  }
}

/**
 * An issuer for `ca`: what `issueDeviceCertificate` makes (same profile and bytes, apart
 * from the random signature), with the per-CA parts encoded once.
 */
export async function createDeviceCertificateIssuer(
  ca: CertificateAuthority,
  crypto: IssuerCrypto = webIssuerCrypto(ca.privateKey),
): Promise<DeviceCertificateIssuer> {
  const issuerName = toBytes(ca.certificate.subjectName.toArrayBuffer());
  // The profile's fixed extensions, from the same function issueDeviceCertificate uses.
  const profile = await deviceExtensions(ca.publicKey, ca.keyId, "meshauth:device:x:y:z", {
    oid: "1.2.3",
    critical: false,
    value: new Uint8Array(0),
  });
  const fixed = profile.slice(0, 3).map((e) => toBytes((e as { rawData: ArrayBuffer }).rawData));
  const aki = toBytes((profile[4] as { rawData: ArrayBuffer }).rawData);

  const thumbprint = async (spki: Uint8Array) => {
    const jwk = pointJwk(spki);
    const canonical = `{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
    return { jwk, thumbprint: base64url(await crypto.digest("SHA-256", utf8.encode(canonical))) };
  };

  return {
    async verifyCsr(csr) {
      let spki: Uint8Array;
      let info: Uint8Array;
      let signature: Uint8Array;
      let algorithm: { tag: number; encoded: Uint8Array } | undefined;
      try {
        const der = typeof csr === "string" ? pemToDer(csr, "CERTIFICATE REQUEST") : toBytes(csr);
        const [cri, alg, sig, extra] = readChildren(readOnly(der, TAG.SEQUENCE).contents);
        if (!cri || !alg || !sig || extra || cri.tag !== TAG.SEQUENCE || sig.tag !== TAG.BIT_STRING)
          throw new DerError("not a CertificationRequest");
        const [version, , key] = readChildren(cri.contents);
        if (!version || version.tag !== TAG.INTEGER || !key || key.tag !== TAG.SEQUENCE)
          throw new DerError("not a CertificationRequestInfo");
        algorithm = readChildren(readOnly(alg.encoded, TAG.SEQUENCE).contents)[0];
        if (sig.contents[0] !== 0) throw new DerError("BIT STRING with unused bits");
        spki = key.encoded;
        info = cri.encoded;
        signature = sig.contents.subarray(1);
      } catch (error) {
        if (error instanceof CertificateError) throw error;
        throw new CertificateError(
          "malformed",
          `not a PKCS#10 certificate request: ${(error as Error).message}`,
        );
      }
      if (!isP256Spki(spki)) {
        throw new CertificateError(
          "unsupported_key",
          "the CSR's key is not a P-256 EC key; meshauth certifies P-256 only",
        );
      }
      const ecdsaWithSha256 =
        algorithm?.tag === TAG.OID &&
        algorithm.encoded.length === ECDSA_WITH_SHA256.length - 2 &&
        algorithm.encoded.every((b, i) => b === ECDSA_WITH_SHA256[i + 2]);
      let valid = false;
      try {
        valid = ecdsaWithSha256 && (await crypto.verify(spki, info, signature));
      } catch {
        valid = false;
      }
      if (!valid)
        throw new CertificateError("bad_csr_signature", "the CSR's signature does not verify with its key");
      return { publicKeySpki: new Uint8Array(spki), keyThumbprint: (await thumbprint(spki)).thumbprint };
    },

    async issue(options) {
      const { identity } = options;
      if (identity.appId !== ca.appId) {
        throw new CertificateError(
          "invalid_identity",
          `the identity is for app ${JSON.stringify(identity.appId)} but the CA is app ${JSON.stringify(ca.appId)}`,
        );
      }
      if (identity.provider === "shared-key") {
        throw new CertificateError("invalid_identity", "a CA does not issue shared-key identities");
      }
      const spki = options.publicKeySpki;
      if (!isP256Spki(spki))
        throw new CertificateError("unsupported_key", "meshauth certifies P-256 keys only");
      const now = options.now ?? new Date();
      const { notBefore, notAfter } = validity(now, identity.exp, options, ca.notAfter);
      const embedded: Identity = { ...identity, exp: Math.floor(notAfter.getTime() / 1000) };
      const serialNumber = normalizeSerial(options.serialNumber ?? randomSerialNumber());
      if (!/^([0-9a-f]{2})+$/.test(serialNumber) || serialNumber.length > 40)
        throw new Error("serial number must be 1 to 20 bytes of hex");

      const cn = deviceCommonName(identity.userId);
      const subject = encodeTlv(
        TAG.SEQUENCE,
        encodeTlv(
          0x31,
          encodeTlv(
            TAG.SEQUENCE,
            concat(CN_OID, encodeTlv(PRINTABLE.test(cn) ? 0x13 : 0x0c, utf8.encode(cn))),
          ),
        ),
      );
      const keyId = await crypto.digest("SHA-1", spki.subarray(26));
      const ski = encodeTlv(
        TAG.SEQUENCE,
        concat(SKI_OID, encodeTlv(TAG.OCTET_STRING, encodeTlv(TAG.OCTET_STRING, keyId))),
      );
      const uri = utf8.encode(deviceUri(identity.appId, identity.userId, identity.peerKey));
      const san = encodeTlv(
        TAG.SEQUENCE,
        concat(SAN_OID, encodeTlv(TAG.OCTET_STRING, encodeTlv(TAG.SEQUENCE, encodeTlv(0x86, uri)))),
      );
      const identityExtension = encodeExtension(
        encodeIdentityExtension(
          options.sessionId === undefined
            ? { identity: embedded }
            : { identity: embedded, sessionId: options.sessionId },
        ),
      );
      const tbs = encodeTlv(
        TAG.SEQUENCE,
        concat(
          V3,
          encodeTlv(TAG.INTEGER, serialContents(serialNumber)),
          ECDSA_WITH_SHA256,
          issuerName,
          encodeTlv(TAG.SEQUENCE, concat(encodeTime(notBefore), encodeTime(notAfter))),
          subject,
          spki,
          encodeTlv(0xa3, encodeTlv(TAG.SEQUENCE, concat(...fixed, ski, aki, san, identityExtension))),
        ),
      );
      const signature = await crypto.sign(tbs);
      const der = encodeTlv(
        TAG.SEQUENCE,
        concat(tbs, ECDSA_WITH_SHA256, encodeTlv(TAG.BIT_STRING, concat(new Uint8Array([0]), signature))),
      );
      const { jwk, thumbprint: keyThumbprint } = await thumbprint(spki);
      return {
        certificatePem: pem(der),
        certificateDer: der,
        serialNumber,
        notBefore,
        notAfter,
        keyThumbprint,
        publicKeyJwk: jwk,
        identity: embedded,
        caCertificatePem: ca.certificatePem,
      };
    },
  };
}
