import type { PermissionRules, Permissions } from "./types.js";

function rulesJson(rules: PermissionRules): string {
  const names = Object.keys(rules.queriesByCollection).sort();
  const members = names.map(
    (name) => `${JSON.stringify(name)}:${JSON.stringify(rules.queriesByCollection[name] as string[])}`,
  );
  return `{"everything":${rules.everything},"queriesByCollection":{${members.join(",")}}}`;
}

/**
 * Compact JSON of a shape-checked permission set with collections in sorted order: equal
 * sets give equal strings whatever their key order, so it keys the compile cache, and its
 * UTF-8 length is what the size limit measures.
 */
export function canonicalPermissionsJson(permissions: Permissions): string {
  const remote = permissions.remoteQuery === undefined ? "" : `,"remoteQuery":${permissions.remoteQuery}`;
  return `{"read":${rulesJson(permissions.read)}${remote},"write":${rulesJson(permissions.write)}}`;
}

/** UTF-8 byte length, as TextEncoder would encode it (a lone surrogate becomes U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}
