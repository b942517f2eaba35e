import { createCertificateAuthority } from "@meshauth/core";
import type { SecretBox } from "../crypto/secrets.js";

/**
 * Makes an app's own certificate authority (P-256, self-signed). Each app gets its own
 * root so a device certificate of one app can never pass as a peer of another.
 */
export async function createAppAuthority(
  appId: string,
  name: string,
  box: SecretBox,
): Promise<{ certificatePem: string; privateKeySealed: string }> {
  const ca = await createCertificateAuthority({ appId, name });
  return { certificatePem: ca.certificatePem, privateKeySealed: box.seal(ca.privateKeyPkcs8, `ca:${appId}`) };
}
