import { MeshauthError } from "@meshauth/core";

/** Deepest nesting a JSON request body may have; checked before anything recursive sees it. */
export const MAX_BODY_DEPTH = 32;

/**
 * Whether `value` nests deeper than `max` (a scalar is depth 0, `[]` depth 1). Iterative,
 * so a body of 100,000 nested arrays costs a loop, not a stack overflow.
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== "object" || v === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Flattens a form or JSON body into single string values. RFC 6749 §3.2: a parameter
 * must not appear twice; JSON bodies may carry objects for `permissions`.
 */
export function oauthParams(body: unknown): Record<string, string> {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body))
    throw new MeshauthError("invalid_request", "send the parameters as a form or a JSON object");
  const out: Record<string, string> = Object.create(null);
  for (const [key, value] of Object.entries(body)) {
    if (Array.isArray(value)) throw new MeshauthError("invalid_request", `${key}: sent more than once`);
    if (value === undefined || value === null) continue;
    if (typeof value === "object" && nestedDeeperThan(value, MAX_BODY_DEPTH))
      throw new MeshauthError("invalid_request", `${key}: nested deeper than ${MAX_BODY_DEPTH} levels`);
    out[key] = typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  return out;
}

/** A parameter that must be present and non-empty (at most 8192 characters). */
export function requiredParam(p: Record<string, string>, name: string): string {
  const v = p[name];
  if (v === undefined || v === "") throw new MeshauthError("invalid_request", `${name} is required`);
  if (v.length > 8192) throw new MeshauthError("invalid_request", `${name} is too long`);
  return v;
}
