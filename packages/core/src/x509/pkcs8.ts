// Reads the PKCS#8 P-256 private keys that shared keys are made of, as openssl writes them,
// and rewrites them in the one form every WebCrypto accepts (named curve, no inner
// parameters). Browsers refuse explicit curve parameters, which some openssl builds and
// options (`-pkeyopt ec_param_enc:explicit`) produce.
import { toHex } from "./bytes.js";
import {
  concat,
  DerError,
  decodeOidContents,
  encodeOidContents,
  encodeTlv,
  readChildren,
  readOnly,
  TAG,
} from "./der.js";

const ID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const PRIME256V1 = "1.2.840.10045.3.1.7";
const PRIME_FIELD = "1.2.840.10045.1.1";

const KNOWN_ALGORITHMS: Record<string, string> = {
  "1.2.840.113549.1.1.1": "RSA",
  "1.3.101.112": "Ed25519",
  "1.3.101.113": "Ed448",
  "1.3.101.110": "X25519",
  "1.2.840.10040.4.1": "DSA",
};
const KNOWN_CURVES: Record<string, string> = {
  "1.3.132.0.34": "P-384",
  "1.3.132.0.35": "P-521",
  "1.3.132.0.10": "secp256k1",
  "1.2.840.10045.3.1.1": "P-192",
  "1.3.132.0.33": "P-224",
};

/** P-256 domain parameters (SEC 2 §2.4.2), for recognizing explicitly encoded curves. */
const P256_DOMAIN = {
  p: "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
  a: "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc",
  b: "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
  gx: "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
  gy: "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
  n: "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
};

/** Why a byte string is not a usable P-256 PKCS#8 key. */
export class Pkcs8Error extends Error {
  override name = "Pkcs8Error";
  constructor(
    readonly kind: "not_pkcs8" | "not_ec" | "not_p256",
    message: string,
  ) {
    super(message);
  }
}

/**
 * Checks a PKCS#8 PrivateKeyInfo holds a P-256 EC key (named or explicit parameters) and
 * returns it re-encoded with the named curve OID and an ECPrivateKey without parameters.
 */
export function normalizeP256Pkcs8(der: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  let version: number | undefined;
  let algorithm: Uint8Array<ArrayBuffer> | undefined;
  let privateKey: Uint8Array<ArrayBuffer> | undefined;
  try {
    const [v, alg, key] = readChildren(readOnly(der, TAG.SEQUENCE).contents);
    if (v?.tag === TAG.INTEGER && v.contents.length === 1) version = v.contents[0];
    if (alg?.tag === TAG.SEQUENCE) algorithm = alg.contents;
    if (key?.tag === TAG.OCTET_STRING) privateKey = key.contents;
  } catch (error) {
    if (!(error instanceof DerError)) throw error;
  }
  if ((version !== 0 && version !== 1) || !algorithm || !privateKey) {
    const sec1 = looksLikeSec1(der);
    throw new Pkcs8Error(
      "not_pkcs8",
      sec1
        ? "this is a SEC 1 EC private key, not PKCS#8: convert it with `openssl pkcs8 -topk8 -nocrypt -outform der`"
        : "not a PKCS#8 private key (expected DER PrivateKeyInfo, as `openssl pkcs8 -topk8 -nocrypt -outform der` writes)",
    );
  }
  const [oid, parameters] = readChildren(algorithm);
  const algorithmOid = oid?.tag === TAG.OID ? decodeOidContents(oid.contents) : "";
  if (algorithmOid !== ID_EC_PUBLIC_KEY) {
    const name = KNOWN_ALGORITHMS[algorithmOid] ?? `algorithm ${algorithmOid || "unknown"}`;
    throw new Pkcs8Error("not_ec", `the key is ${name}, not an elliptic-curve P-256 key`);
  }
  if (parameters?.tag === TAG.OID) {
    const curve = decodeOidContents(parameters.contents);
    if (curve !== PRIME256V1) {
      throw new Pkcs8Error("not_p256", `the key is on curve ${KNOWN_CURVES[curve] ?? curve}, not P-256`);
    }
  } else if (parameters?.tag !== TAG.SEQUENCE || !isExplicitP256(parameters.contents)) {
    throw new Pkcs8Error("not_p256", "the key's curve parameters are not P-256");
  }

  // ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] parameters, [1] publicKey }
  let secret: Uint8Array | undefined;
  let publicKey: Uint8Array | undefined;
  try {
    const parts = readChildren(readOnly(privateKey, TAG.SEQUENCE).contents);
    const [ecVersion, d] = parts;
    if (ecVersion?.tag === TAG.INTEGER && ecVersion.contents[0] === 1 && d?.tag === TAG.OCTET_STRING) {
      secret = d.contents;
    }
    publicKey = parts.find((p) => p.tag === TAG.CONTEXT_1)?.encoded;
  } catch (error) {
    if (!(error instanceof DerError)) throw error;
  }
  if (secret?.length !== 32) {
    throw new Pkcs8Error("not_p256", "the key's ECPrivateKey is not a 32-byte P-256 private key");
  }
  const ecPrivateKey = encodeTlv(
    TAG.SEQUENCE,
    concat(
      encodeTlv(TAG.INTEGER, new Uint8Array([1])),
      encodeTlv(TAG.OCTET_STRING, secret),
      publicKey ?? new Uint8Array(),
    ),
  );
  return encodeTlv(
    TAG.SEQUENCE,
    concat(
      encodeTlv(TAG.INTEGER, new Uint8Array([0])),
      encodeTlv(
        TAG.SEQUENCE,
        concat(
          encodeTlv(TAG.OID, encodeOidContents(ID_EC_PUBLIC_KEY)),
          encodeTlv(TAG.OID, encodeOidContents(PRIME256V1)),
        ),
      ),
      encodeTlv(TAG.OCTET_STRING, ecPrivateKey),
    ),
  );
}

/** ECParameters (RFC 3279 §2.3.5) equal to P-256's, whatever optional parts were written. */
function isExplicitP256(contents: Uint8Array<ArrayBuffer>): boolean {
  try {
    const [version, fieldId, curve, base, order, cofactor] = readChildren(contents);
    if (version?.tag !== TAG.INTEGER || fieldId?.tag !== TAG.SEQUENCE || curve?.tag !== TAG.SEQUENCE)
      return false;
    if (base?.tag !== TAG.OCTET_STRING || order?.tag !== TAG.INTEGER) return false;
    const [fieldType, prime] = readChildren(fieldId.contents);
    if (fieldType?.tag !== TAG.OID || decodeOidContents(fieldType.contents) !== PRIME_FIELD) return false;
    if (prime?.tag !== TAG.INTEGER || unsignedHex(prime.contents) !== P256_DOMAIN.p) return false;
    const [a, b] = readChildren(curve.contents);
    if (a?.tag !== TAG.OCTET_STRING || b?.tag !== TAG.OCTET_STRING) return false;
    if (unsignedHex(a.contents) !== P256_DOMAIN.a || unsignedHex(b.contents) !== P256_DOMAIN.b) return false;
    const point = toHex(base.contents);
    const gyOdd = Number.parseInt(P256_DOMAIN.gy.slice(-1), 16) % 2 === 1;
    const generatorOk =
      point === `04${P256_DOMAIN.gx}${P256_DOMAIN.gy}` || point === `${gyOdd ? "03" : "02"}${P256_DOMAIN.gx}`;
    if (!generatorOk || unsignedHex(order.contents) !== P256_DOMAIN.n) return false;
    return (
      cofactor === undefined || (cofactor.tag === TAG.INTEGER && unsignedHex(cofactor.contents) === "01")
    );
  } catch {
    return false;
  }
}

function unsignedHex(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return toHex(bytes.subarray(i));
}

function looksLikeSec1(der: Uint8Array<ArrayBuffer>): boolean {
  try {
    const [v, d] = readChildren(readOnly(der, TAG.SEQUENCE).contents);
    return v?.tag === TAG.INTEGER && v.contents[0] === 1 && d?.tag === TAG.OCTET_STRING;
  } catch {
    return false;
  }
}
