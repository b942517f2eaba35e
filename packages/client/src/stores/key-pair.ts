// Device key pairs as stores keep them: ECDSA P-256, the private key non-extractable once
// loaded, the public key extractable (proofs embed it as a JWK). WebCrypto only, so this
// module runs in browsers too; the file store adds the PKCS#8 PEM it writes to disk.
import { decodePem, derToPem } from "@meshauth/core";

const P256: EcKeyImportParams = { name: "ECDSA", namedCurve: "P-256" };

/** Why a text is not a usable device key; the message says what it is instead. */
export class KeyFormatError extends Error {
  override name = "KeyFormatError";
}

/**
 * A new P-256 key pair and its private key as PKCS#8 PEM. The key is extractable only
 * while it is exported: the pair returned is re-imported with a non-extractable private key.
 */
export async function generatePemKeyPair(): Promise<{ keys: CryptoKeyPair; pem: string }> {
  const generated = await globalThis.crypto.subtle.generateKey(P256, true, ["sign", "verify"]);
  const [pkcs8, jwk] = await Promise.all([
    globalThis.crypto.subtle.exportKey("pkcs8", generated.privateKey),
    globalThis.crypto.subtle.exportKey("jwk", generated.privateKey),
  ]);
  return { keys: await importPrivateJwk(jwk), pem: derToPem(pkcs8, "PRIVATE KEY") };
}

/**
 * Imports a P-256 private key from PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, as
 * `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` writes it). The private
 * key comes back non-extractable, the public key extractable. Throws `KeyFormatError`.
 */
export async function importPrivateKeyPem(pem: string): Promise<CryptoKeyPair> {
  let blocks: ReturnType<typeof decodePem>;
  try {
    blocks = decodePem(pem);
  } catch (error) {
    throw new KeyFormatError((error as Error).message);
  }
  const block = blocks.find((b) => b.label === "PRIVATE KEY");
  if (!block) {
    const label = blocks[0]?.label;
    if (label === "EC PRIVATE KEY") {
      throw new KeyFormatError(
        "it is a SEC 1 EC PRIVATE KEY, not PKCS#8 (convert it with `openssl pkcs8 -topk8 -nocrypt`)",
      );
    }
    if (label === "ENCRYPTED PRIVATE KEY") {
      throw new KeyFormatError("it is an encrypted private key; the store needs an unencrypted PKCS#8 key");
    }
    throw new KeyFormatError(
      label === undefined ? "it holds no PEM block" : `it holds a PEM ${label}, not a PRIVATE KEY`,
    );
  }
  let jwk: JsonWebKey;
  try {
    const extractable = await globalThis.crypto.subtle.importKey("pkcs8", block.der, P256, true, ["sign"]);
    jwk = await globalThis.crypto.subtle.exportKey("jwk", extractable);
  } catch (error) {
    throw new KeyFormatError(`it is not a PKCS#8 P-256 private key (${(error as Error).message})`);
  }
  return importPrivateJwk(jwk);
}

async function importPrivateJwk(jwk: JsonWebKey): Promise<CryptoKeyPair> {
  const { kty, crv, x, y, d } = jwk;
  if (kty !== "EC" || crv !== "P-256" || !x || !y || !d) {
    throw new KeyFormatError("it is not a P-256 private key");
  }
  const [privateKey, publicKey] = await Promise.all([
    globalThis.crypto.subtle.importKey("jwk", { kty, crv, x, y, d }, P256, false, ["sign"]),
    globalThis.crypto.subtle.importKey("jwk", { kty, crv, x, y }, P256, true, ["verify"]),
  ]);
  return { privateKey, publicKey };
}
