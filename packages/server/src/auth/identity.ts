import { type Identity, MeshauthError, type Permissions } from "@meshauth/core";
import type { AccessTokenClaims } from "./tokens.js";

/** Keys that mean something to JavaScript objects, never kept as identity data. */
const UNSAFE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/**
 * A copy of provider-supplied JSON fit to build identities from: every object is a
 * plain object without `__proto__`, `constructor` or `prototype` keys (dropped at any
 * depth), so nothing a webhook or IdP says can reach a prototype or end up in a
 * certificate as such a key. Iterative; the input is already depth-bounded.
 */
export function plainJson(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  const root: unknown = Array.isArray(value) ? [] : {};
  const stack: Array<[unknown, Record<string, unknown> | unknown[]]> = [
    [value, root as Record<string, unknown>],
  ];
  while (stack.length > 0) {
    const [from, to] = stack.pop() as [Record<string, unknown> | unknown[], Record<string, unknown>];
    for (const [key, v] of Object.entries(from)) {
      if (UNSAFE_KEYS.has(key)) continue;
      let copy = v;
      if (typeof v === "object" && v !== null) {
        copy = Array.isArray(v) ? [] : {};
        stack.push([v as Record<string, unknown>, copy as Record<string, unknown>]);
      }
      // defineProperty: an own data property whatever the key, never a setter call.
      Object.defineProperty(to, key, { value: copy, enumerable: true, writable: true, configurable: true });
    }
  }
  return root;
}

/** `plainJson` of a value that must be a JSON object, or undefined if it is not one. */
export function plainRecord(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  return plainJson(value) as Record<string, unknown>;
}

/** The identity an access token carries (for certificates and resource routes). */
export function identityFromClaims(claims: AccessTokenClaims, appId: string): Identity {
  return {
    appId,
    userId: claims.sub,
    peerKey: claims.cnf.jkt,
    provider: claims.provider,
    permissions: claims.permissions,
    ...(claims.user_info ? { userInfo: plainRecord(claims.user_info) ?? {} } : {}),
    ...(claims.identity_metadata ? { metadata: plainRecord(claims.identity_metadata) ?? {} } : {}),
    exp: claims.identity_exp,
  };
}

const JKT = /^[A-Za-z0-9_-]{43}$/;

/** The user a backend vouches for in the custom-auth grant, checked. */
export function customLoginIdentity(
  p: Record<string, string>,
  validatePermissions: (value: unknown, field: string) => Permissions,
): {
  userId: string;
  jkt: string;
  permissions?: Permissions;
  userInfo: Record<string, unknown>;
  profile: { email?: string; name?: string };
} {
  const sub = p.sub ?? "";
  if (sub === "") throw new MeshauthError("invalid_request", "sub is required");
  if (sub.length > 256) throw new MeshauthError("invalid_request", "sub: at most 256 characters");
  const jkt = p.dpop_jkt ?? "";
  if (jkt === "") throw new MeshauthError("invalid_request", "dpop_jkt is required");
  if (!JKT.test(jkt))
    throw new MeshauthError(
      "invalid_request",
      "dpop_jkt: expected the RFC 7638 SHA-256 thumbprint (43 base64url characters) of the user's device key",
    );
  let permissions: Permissions | undefined;
  if (p.permissions !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(p.permissions);
    } catch {
      throw new MeshauthError("invalid_request", "permissions: expected JSON");
    }
    permissions = validatePermissions(parsed, "permissions");
  }
  const email = p.email?.slice(0, 254);
  const name = p.name?.slice(0, 200);
  const info = { ...(email ? { email } : {}), ...(name ? { name } : {}) };
  return { userId: sub, jkt, ...(permissions ? { permissions } : {}), userInfo: info, profile: info };
}
