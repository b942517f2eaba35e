import {
  CompactSign,
  compactVerify,
  createLocalJWKSet,
  decodeProtectedHeader,
  exportJWK,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import { DEFAULT_DPOP_ALGORITHMS, isDpopAlgorithm, keyMatchesAlgorithm } from "../dpop/algorithms.js";
import { accessTokenHash } from "../dpop/ath.js";
import { PRIVATE_MEMBERS } from "../dpop/keys.js";
import { jwkThumbprint } from "../dpop/thumbprint.js";
import { MeshauthError } from "../errors.js";
import type { Identity, ProviderId } from "../identity.js";
import { validatePermissions } from "../permissions/validate.js";
import { isRevoked, type RevocationList } from "../x509/revocation.js";

/** `typ` of the proof a peer signs over a channel nonce; never accepted as a DPoP proof (different typ). */
export const PEER_PROOF_TYPE = "meshauth-peer+jwt";
const MAX_LENGTH = 16_384;

export interface CreatePeerProofOptions {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The random value the other peer sent for this connection. */
  channelNonce: string;
  /** The access token presented with the proof. */
  accessToken: string;
  alg?: "ES256" | "EdDSA";
  iat?: number;
}

/**
 * A proof that the sender holds the key its access token is bound to, for this one
 * connection: a JWS over the other peer's channel nonce and the token's hash.
 */
export async function createPeerProof(o: CreatePeerProofOptions): Promise<string> {
  const jwk = await exportJWK(o.publicKey);
  const publicOnly: JWK = Object.fromEntries(
    Object.entries(jwk).filter(([k]) => !(PRIVATE_MEMBERS as readonly string[]).includes(k)),
  );
  const alg = o.alg ?? (jwk.kty === "OKP" ? "EdDSA" : "ES256");
  const payload = {
    nonce: o.channelNonce,
    ath: await accessTokenHash(o.accessToken),
    iat: o.iat ?? Math.floor(Date.now() / 1000),
  };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ typ: PEER_PROOF_TYPE, alg, jwk: publicOnly })
    .sign(o.privateKey);
}

export interface VerifyPeerTokenOptions {
  accessToken: string;
  proof: string;
  /** The nonce this peer sent to the other for this connection. */
  channelNonce: string;
  /** The hub's public keys (its JWKS, cached while offline). */
  keys: JSONWebKeySet | JWTVerifyGetKey;
  /** The app this peer belongs to; tokens of other apps are refused. */
  appId: string;
  /** The hub's issuer, when known. */
  issuer?: string;
  revocations?: RevocationList;
  /** Unix seconds. */
  now?: number;
  /** How old a proof may be, seconds; default 300. */
  maxAgeSeconds?: number;
}

function refuse(reason: string, message: string): never {
  throw new MeshauthError("invalid_token", message, { reason });
}

/**
 * Authenticates a peer that presents an access token instead of a client certificate:
 * the token must be the hub's (signature, `typ`, app, expiry), the proof must be signed
 * by the key the token is bound to, over this connection's nonce. Works offline.
 */
export async function verifyPeerToken(o: VerifyPeerTokenOptions): Promise<Identity> {
  const now = o.now ?? Math.floor(Date.now() / 1000);
  if (o.accessToken.length > MAX_LENGTH || o.proof.length > MAX_LENGTH)
    refuse("too_large", "peer token or proof is too large");
  const keys = typeof o.keys === "function" ? o.keys : createLocalJWKSet(o.keys);
  let claims: Record<string, unknown>;
  try {
    ({ payload: claims } = await jwtVerify(o.accessToken, keys, {
      typ: "at+jwt",
      audience: o.appId,
      algorithms: ["ES256", "EdDSA"],
      currentDate: new Date(now * 1000),
      requiredClaims: ["sub", "exp", "cnf"],
      ...(o.issuer ? { issuer: o.issuer } : {}),
    }));
  } catch (e) {
    refuse("token", `peer access token refused: ${(e as Error).message}`);
  }
  const jkt = (claims.cnf as { jkt?: unknown } | undefined)?.jkt;
  if (typeof jkt !== "string") refuse("token", "peer access token is not bound to a key");

  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(o.proof);
  } catch {
    refuse("proof", "peer proof is not a JWS");
  }
  const jwk = header.jwk as JWK | undefined;
  if (header.typ !== PEER_PROOF_TYPE) refuse("proof", `peer proof typ must be ${PEER_PROOF_TYPE}`);
  if (!isDpopAlgorithm(header.alg) || !DEFAULT_DPOP_ALGORITHMS.includes(header.alg))
    refuse("proof", "peer proof algorithm is not allowed");
  if (!jwk || PRIVATE_MEMBERS.some((m) => m in jwk) || !keyMatchesAlgorithm(jwk, header.alg))
    refuse("proof", "peer proof needs a public jwk matching its alg");
  if ((await jwkThumbprint(jwk)) !== jkt)
    refuse("proof", "peer proof is signed by another key than the token is bound to");
  let payload: { nonce?: unknown; ath?: unknown; iat?: unknown };
  try {
    const { payload: bytes } = await compactVerify(o.proof, await importJWK(jwk, header.alg), {
      algorithms: [header.alg],
    });
    payload = JSON.parse(new TextDecoder().decode(bytes)) as typeof payload;
  } catch {
    refuse("proof", "peer proof signature is invalid");
  }
  if (payload.nonce !== o.channelNonce) refuse("proof", "peer proof is for another connection (nonce)");
  if (payload.ath !== (await accessTokenHash(o.accessToken)))
    refuse("proof", "peer proof is for another token (ath)");
  const maxAge = o.maxAgeSeconds ?? 300;
  if (typeof payload.iat !== "number" || payload.iat < now - maxAge || payload.iat > now + 60)
    refuse("proof", "peer proof is too old or from the future");

  let permissions: Identity["permissions"];
  try {
    permissions = validatePermissions(claims.permissions);
  } catch (e) {
    refuse("token", `peer access token carries invalid permissions: ${(e as Error).message}`);
  }
  const identity: Identity = {
    appId: o.appId,
    userId: String(claims.sub),
    peerKey: jkt,
    provider: String(claims.provider) as ProviderId,
    permissions,
    ...(claims.user_info && typeof claims.user_info === "object"
      ? { userInfo: claims.user_info as Record<string, unknown> }
      : {}),
    exp: typeof claims.identity_exp === "number" ? claims.identity_exp : Number(claims.exp),
  };
  const sid = typeof claims.sid === "string" ? claims.sid : undefined;
  if (o.revocations && isRevoked(o.revocations, identity, undefined, sid))
    refuse("revoked", "this peer's user, device or session is revoked");
  return identity;
}
