import type { QueryNode } from "@meshauth/core";

/** A tree without its `loc` members, for comparing trees parsed from different texts. */
export function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(strip);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (k !== "loc") out[k] = strip(v);
    return out;
  }
  return value;
}

export function shape(node: QueryNode): unknown {
  return strip(node);
}
