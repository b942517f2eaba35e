// Assembles and signs an X.509 v3 certificate from DER pieces: names and standard extensions
// from @peculiar/x509, the public key from WebCrypto, the identity extension from der.ts.
// Building the TBSCertificate here (rather than through @peculiar/x509's generator, which
// re-parses every extension through asn1js) keeps each byte under meshauth's control.
import { toBytes } from "./bytes.js";
import { concat, encodeOidContents, encodeTlv, TAG } from "./der.js";
import { ES256_SIGNING } from "./keys.js";
import { x509 } from "./peculiar.js";

/** ecdsa-with-SHA256; RFC 5758 §3.2: parameters absent. */
const ECDSA_WITH_SHA256 = encodeTlv(
  TAG.SEQUENCE,
  encodeTlv(TAG.OID, encodeOidContents("1.2.840.10045.4.3.2")),
);

/** An extension given by its parts, for OIDs @peculiar/x509 cannot carry. */
export interface RawExtension {
  oid: string;
  critical: boolean;
  /** DER of the extension's value (what goes inside extnValue's OCTET STRING). */
  value: Uint8Array;
}

export interface CertificateTemplate {
  /** Positive serial number, hex. */
  serialNumber: string;
  /** DER of the issuer Name: byte-for-byte the issuer certificate's subject. */
  issuer: Uint8Array;
  subject: x509.JsonName;
  notBefore: Date;
  notAfter: Date;
  publicKey: CryptoKey;
  signingKey: CryptoKey;
  extensions: ReadonlyArray<x509.Extension | RawExtension>;
}

/** Signs a certificate with ECDSA P-256 / SHA-256 and returns it parsed. */
export async function buildCertificate(template: CertificateTemplate): Promise<x509.X509Certificate> {
  const spki = new Uint8Array(await globalThis.crypto.subtle.exportKey("spki", template.publicKey));
  const extensions = template.extensions.map((e) =>
    e instanceof x509.Extension ? toBytes(e.rawData) : encodeRawExtension(e),
  );
  const tbs = encodeTlv(
    TAG.SEQUENCE,
    concat(
      encodeTlv(TAG.CONTEXT_0, encodeTlv(TAG.INTEGER, new Uint8Array([2]))), // v3
      encodeTlv(TAG.INTEGER, serialContents(template.serialNumber)),
      ECDSA_WITH_SHA256,
      template.issuer,
      encodeTlv(TAG.SEQUENCE, concat(encodeTime(template.notBefore), encodeTime(template.notAfter))),
      toBytes(new x509.Name(template.subject).toArrayBuffer()),
      spki,
      encodeTlv(0xa3, encodeTlv(TAG.SEQUENCE, concat(...extensions))),
    ),
  );
  const raw = await globalThis.crypto.subtle.sign(ES256_SIGNING, template.signingKey, tbs);
  const signature = new x509.AsnEcSignatureFormatter().toAsnSignature(
    { ...template.signingKey.algorithm, ...ES256_SIGNING } as Algorithm,
    raw,
  );
  if (!signature) throw new Error("could not encode the ECDSA signature");
  const certificate = encodeTlv(
    TAG.SEQUENCE,
    concat(
      tbs,
      ECDSA_WITH_SHA256,
      encodeTlv(TAG.BIT_STRING, concat(new Uint8Array([0]), toBytes(signature))),
    ),
  );
  return new x509.X509Certificate(certificate);
}

function encodeRawExtension(extension: RawExtension): Uint8Array {
  return encodeTlv(
    TAG.SEQUENCE,
    concat(
      encodeTlv(TAG.OID, encodeOidContents(extension.oid)),
      extension.critical ? new Uint8Array([0x01, 0x01, 0xff]) : new Uint8Array(0),
      encodeTlv(TAG.OCTET_STRING, extension.value),
    ),
  );
}

function serialContents(hex: string): Uint8Array {
  if (!/^([0-9a-f]{2})+$/i.test(hex) || hex.length > 40)
    throw new Error("serial number must be 1 to 20 bytes of hex");
  const bytes = (hex.match(/../g) ?? []).map((h) => Number.parseInt(h, 16));
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0); // keep it positive
  while (bytes.length > 1 && bytes[0] === 0 && ((bytes[1] ?? 0) & 0x80) === 0) bytes.shift(); // minimal
  return new Uint8Array(bytes);
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; seconds, always Z. */
function encodeTime(date: Date): Uint8Array {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-:T]/g, "");
  const year = date.getUTCFullYear();
  const utc = year >= 1950 && year < 2050;
  return encodeTlv(utc ? 0x17 : 0x18, new TextEncoder().encode(`${utc ? digits.slice(2) : digits}Z`));
}
