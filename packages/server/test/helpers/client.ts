import { createDpopProof, generateDpopKeyPair, jwkThumbprint } from "@meshauth/core";

/** What a device holds: a non-extractable P-256 key pair and its thumbprint. */
export interface TestDevice {
  keys: CryptoKeyPair;
  jkt: string;
  /** The latest DPoP-Nonce the hub sent. */
  nonce?: string;
}

export async function newDevice(): Promise<TestDevice> {
  const keys = await generateDpopKeyPair();
  return { keys, jkt: await jwkThumbprint(keys.publicKey) };
}

export interface HubResponse {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/**
 * POSTs a form to the hub as a DPoP client would: a fresh proof for the exact URL, the
 * device's last nonce included, and one retry when the hub asks for a nonce.
 */
export async function post(
  baseUrl: string,
  path: string,
  form: Record<string, string>,
  device?: TestDevice,
  extra: { headers?: Record<string, string>; accessToken?: string; noRetry?: boolean } = {},
): Promise<HubResponse> {
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
      ...extra.headers,
    };
    if (device) {
      headers.dpop = await createDpopProof({
        privateKey: device.keys.privateKey,
        publicKey: device.keys.publicKey,
        htm: "POST",
        htu: `${baseUrl}${path}`,
        ...(device.nonce ? { nonce: device.nonce } : {}),
        ...(extra.accessToken ? { accessToken: extra.accessToken } : {}),
      });
    }
    const res = await fetch(`${baseUrl}${path}`, {
      method: "POST",
      headers,
      body: new URLSearchParams(form).toString(),
    });
    const nonce = res.headers.get("dpop-nonce");
    if (device && nonce) device.nonce = nonce;
    const body = (await res.json()) as Record<string, unknown>;
    if (res.status === 400 && body.error === "use_dpop_nonce" && attempt === 0 && !extra.noRetry) continue;
    return { status: res.status, body, headers: res.headers };
  }
}
