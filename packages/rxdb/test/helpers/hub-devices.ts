// Devices of a real hub for peer tests and benchmarks: a device key, a session for a user
// bound to it (the app backend's custom-auth grant) and a device certificate from
// POST /certificate (a CSR, DPoP with the session's token).
import {
  createCertificateSigningRequest,
  createDpopProof,
  generateDeviceKey,
  keyThumbprint,
  type Permissions,
} from "@meshauth/core";
import type { SdkTestHub } from "../../../client/test/helpers/hub.js";

export interface BrowserDevice {
  accessToken: string;
  privateJwk: JsonWebKey;
  publicJwk: JsonWebKey;
  certificatePem: string;
  caCertificatePem: string;
  peerKey: string;
}

/** A device key, a hub session for `sub` bound to it (the app backend's grant) and its certificate. */
export async function hubDevice(
  t: SdkTestHub,
  sub: string,
  permissions: Permissions,
): Promise<BrowserDevice> {
  const keys = await generateDeviceKey();
  const peerKey = await keyThumbprint(keys.publicKey);
  const tokens = await t.customAuth({ sub, dpop_jkt: peerKey, permissions: JSON.stringify(permissions) });
  const accessToken = String((tokens as unknown as { access_token: string }).access_token);
  const csr = await createCertificateSigningRequest({ keys });
  const url = `${t.hub.url}/certificate`;
  let nonce: string | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    const proof = await createDpopProof({
      privateKey: keys.privateKey,
      publicKey: keys.publicKey,
      htm: "POST",
      htu: url,
      accessToken,
      ...(nonce ? { nonce } : {}),
    });
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `DPoP ${accessToken}`, dpop: proof },
      body: JSON.stringify({ csr }),
    });
    if (res.status === 401 && res.headers.get("dpop-nonce")) {
      nonce = res.headers.get("dpop-nonce") ?? undefined;
      continue;
    }
    const body = (await res.json()) as { certificate: string; ca_certificates: string[] };
    if (!res.ok) throw new Error(`certificate: ${res.status} ${JSON.stringify(body)}`);
    return {
      accessToken,
      privateJwk: await crypto.subtle.exportKey("jwk", keys.privateKey),
      publicJwk: await crypto.subtle.exportKey("jwk", keys.publicKey),
      certificatePem: body.certificate,
      caCertificatePem: body.ca_certificates[0] as string,
      peerKey,
    };
  }
  throw new Error("the hub kept asking for a new DPoP nonce");
}
