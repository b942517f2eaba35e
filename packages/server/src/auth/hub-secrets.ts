import { randomBytes } from "node:crypto";
import type { SecretBox } from "../crypto/secrets.js";
import type { Store } from "../storage/store.js";

/**
 * A random secret shared by every hub process on one database (DPoP nonce MAC key,
 * email-code pepper). Made once, stored sealed under the master key; the first
 * writer wins a concurrent start.
 */
export async function sharedSecret(store: Store, box: SecretBox, name: string, now: number): Promise<Buffer> {
  const key = `secret:${name}`;
  let sealed = await store.getSetting(key);
  if (sealed === undefined) sealed = await store.setSettingIfAbsent(key, box.seal(randomBytes(32), key), now);
  return box.open(sealed, key);
}
