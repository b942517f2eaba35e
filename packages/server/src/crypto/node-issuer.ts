/**
 * Device certificates on node:crypto: core's template issuer (the device profile encoded
 * once per CA) signing, verifying CSRs and hashing with node:crypto, and device keys made
 * by OpenSSL, for the generate-key mode. Same certificates as core's WebCrypto path.
 */
import { createHash, createPublicKey, generateKeyPairSync, KeyObject, sign, verify } from "node:crypto";
import {
  type CertificateAuthority,
  createDeviceCertificateIssuer,
  type DeviceCertificateIssuer,
  type IssuerCrypto,
} from "@meshauth/core";

export function nodeIssuerCrypto(caPrivateKey: KeyObject): IssuerCrypto {
  return {
    sign: (data) => sign("sha256", data, caPrivateKey),
    verify: (spki, data, signature) =>
      verify(
        "sha256",
        data,
        createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }),
        signature,
      ),
    digest: (algorithm, data) =>
      createHash(algorithm === "SHA-1" ? "sha1" : "sha256")
        .update(data)
        .digest(),
  };
}

/** The template issuer for a loaded CA (its key is used through node:crypto). */
export function nodeCertificateIssuer(ca: CertificateAuthority): Promise<DeviceCertificateIssuer> {
  return createDeviceCertificateIssuer(ca, nodeIssuerCrypto(KeyObject.from(ca.privateKey)));
}

/** A new P-256 device key: its SubjectPublicKeyInfo, RFC 7638 thumbprint and PKCS#8 PEM. */
export function generateNodeDeviceKey(): {
  publicKeySpki: Buffer;
  keyThumbprint: string;
  privateKeyPem: string;
} {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = publicKey.export({ format: "jwk" });
  return {
    publicKeySpki: publicKey.export({ format: "der", type: "spki" }),
    keyThumbprint: createHash("sha256")
      .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
      .digest("base64url"),
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
  };
}
