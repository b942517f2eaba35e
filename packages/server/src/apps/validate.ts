import { MeshauthError, type Permissions } from "@meshauth/core";
import { type EmailSettings, type OidcClaimMapping, PROVIDER_KINDS, type ProviderKind } from "./model.js";

/** Throws the `invalid_request` error that names the field and what it expects. */
export function invalid(field: string, expected: string, got?: unknown): never {
  const shown = got === undefined ? "" : `, got ${JSON.stringify(got)?.slice(0, 80)}`;
  throw new MeshauthError("invalid_request", `${field}: expected ${expected}${shown}`, { field });
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function requireRecord(v: unknown, field: string): Record<string, unknown> {
  if (!isRecord(v)) invalid(field, "a JSON object", v);
  return v;
}

/** Refuses members not in `allowed`, so a typo is an error instead of a silent no-op. */
export function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key))
      invalid(where ? `${where}.${key}` : key, `no such member (allowed: ${allowed.join(", ")})`);
  }
}

export function str(
  v: unknown,
  field: string,
  opts: { min?: number; max?: number; pattern?: RegExp; hint?: string } = {},
): string {
  const { min = 1, max = 256 } = opts;
  if (typeof v !== "string" || v.length < min || v.length > max || (opts.pattern && !opts.pattern.test(v))) {
    invalid(field, opts.hint ?? `a string of ${min} to ${max} characters`, v);
  }
  return v;
}

export function int(v: unknown, field: string, min: number, max: number, unit = ""): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    invalid(field, `an integer from ${min} to ${max}${unit ? ` ${unit}` : ""}`, v);
  }
  return v;
}

export function bool(v: unknown, field: string): boolean {
  if (typeof v !== "boolean") invalid(field, "true or false", v);
  return v;
}

export function httpUrl(v: unknown, field: string): string {
  const s = str(v, field, { max: 2048, hint: "an http:// or https:// URL" });
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    invalid(field, "an http:// or https:// URL", v);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") invalid(field, "an http:// or https:// URL", v);
  return url.href;
}

export const APP_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const PROVIDER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function appName(v: unknown, field = "name"): string {
  return str(v, field, {
    pattern: APP_NAME,
    hint: "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
  });
}

export function providerName(v: unknown, field = "name"): string {
  return str(v, field, {
    pattern: PROVIDER_NAME,
    hint: "1-64 letters, digits, '_', '.' or '-', starting with a letter or digit",
  });
}

export function providers(v: unknown, field = "providers"): ProviderKind[] {
  if (!Array.isArray(v)) invalid(field, `an array of ${PROVIDER_KINDS.join(", ")}`, v);
  const out = new Set<ProviderKind>();
  v.forEach((p, i) => {
    if (!(PROVIDER_KINDS as readonly unknown[]).includes(p))
      invalid(`${field}[${i}]`, `one of ${PROVIDER_KINDS.join(", ")}`, p);
    out.add(p as ProviderKind);
  });
  return [...out];
}

/** An origin as browsers send it: scheme, host and optional port, nothing else. */
export function corsOrigins(v: unknown, field = "corsOrigins"): string[] {
  if (!Array.isArray(v) || v.length > 100) invalid(field, "an array of at most 100 origins", v);
  return v.map((o, i) => {
    const f = `${field}[${i}]`;
    const s = str(o, f, { max: 512, hint: "an origin such as https://app.example.com" });
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      invalid(f, "an origin such as https://app.example.com", o);
    }
    if ((url.protocol !== "https:" && url.protocol !== "http:") || url.origin !== s.replace(/\/$/, "")) {
      invalid(f, "an origin (scheme://host[:port], no path) such as https://app.example.com", o);
    }
    return url.origin;
  });
}

const EMAIL_KEYS = ["from", "subject", "text", "html", "magicLinkUrl"] as const;

export function emailSettings(v: unknown, field = "email"): EmailSettings {
  const obj = requireRecord(v, field);
  onlyKeys(obj, EMAIL_KEYS, field);
  const out: EmailSettings = {};
  if (obj.from !== undefined) {
    out.from = str(obj.from, `${field}.from`, {
      max: 320,
      pattern: /^[^\r\n]*@[^\r\n]*$/,
      hint: "an email address, optionally with a name, on one line",
    });
  }
  if (obj.subject !== undefined) out.subject = str(obj.subject, `${field}.subject`, { max: 200 });
  if (obj.text !== undefined) out.text = str(obj.text, `${field}.text`, { max: 20_000 });
  if (obj.html !== undefined) out.html = str(obj.html, `${field}.html`, { max: 50_000 });
  if (obj.magicLinkUrl !== undefined) out.magicLinkUrl = httpUrl(obj.magicLinkUrl, `${field}.magicLinkUrl`);
  return out;
}

/** Hook for the permission engine: validates a permission set and returns it normalised. */
export type PermissionValidator = (v: unknown, field: string) => Permissions;

export function oidcMapping(v: unknown, field: string, perms: PermissionValidator): OidcClaimMapping {
  const obj = requireRecord(v ?? {}, field);
  onlyKeys(
    obj,
    [
      "userIdClaim",
      "userInfoClaims",
      "permissionsClaim",
      "permissionsByClaimValue",
      "defaultPermissions",
      "permissionsWebhook",
    ],
    field,
  );
  const out: OidcClaimMapping = {
    userIdClaim:
      obj.userIdClaim === undefined ? "sub" : str(obj.userIdClaim, `${field}.userIdClaim`, { max: 128 }),
    userInfoClaims: [],
    defaultPermissions: perms(
      obj.defaultPermissions ?? {
        read: { everything: false, queriesByCollection: {} },
        write: { everything: false, queriesByCollection: {} },
      },
      `${field}.defaultPermissions`,
    ),
  };
  if (obj.userInfoClaims !== undefined) {
    if (!Array.isArray(obj.userInfoClaims) || obj.userInfoClaims.length > 50)
      invalid(`${field}.userInfoClaims`, "an array of at most 50 claim names");
    out.userInfoClaims = obj.userInfoClaims.map((c, i) =>
      str(c, `${field}.userInfoClaims[${i}]`, { max: 128 }),
    );
  }
  if (obj.permissionsClaim !== undefined)
    out.permissionsClaim = str(obj.permissionsClaim, `${field}.permissionsClaim`, { max: 128 });
  if (obj.permissionsByClaimValue !== undefined) {
    const rules = requireRecord(obj.permissionsByClaimValue, `${field}.permissionsByClaimValue`);
    if (out.permissionsClaim === undefined)
      invalid(`${field}.permissionsClaim`, "a claim name when permissionsByClaimValue is set");
    out.permissionsByClaimValue = {};
    for (const [value, p] of Object.entries(rules)) {
      out.permissionsByClaimValue[value] = perms(p, `${field}.permissionsByClaimValue.${value}`);
    }
  }
  if (obj.permissionsWebhook !== undefined)
    out.permissionsWebhook = providerName(obj.permissionsWebhook, `${field}.permissionsWebhook`);
  return out;
}
