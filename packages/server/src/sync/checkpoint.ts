import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { Checkpoint } from "@meshauth/sync";
import { SyncInputError } from "@meshauth/sync";

/**
 * Checkpoints are the collection's change counter, sealed (AES-256-GCM under a secret every
 * hub process of the database shares) and bound to app and collection. Sealed because the
 * counter counts everyone's writes: a client that saw it in clear would learn how many
 * documents it may not read changed between two of its own.
 */
export class CheckpointSeal {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new RangeError("the checkpoint key must be 32 bytes");
  }

  seal(appId: string, collection: string, seq: number): Checkpoint {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(`${appId}\n${collection}`));
    const plain = Buffer.alloc(8);
    plain.writeBigUInt64BE(BigInt(seq));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return { seq: Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url") };
  }

  /** The counter in a checkpoint (0 for `null`); throws `invalid_checkpoint` for anything else. */
  open(appId: string, collection: string, checkpoint: unknown): number {
    if (checkpoint === null || checkpoint === undefined) return 0;
    const fail = () =>
      new SyncInputError(
        "invalid_checkpoint",
        "checkpoint: send back a checkpoint this hub returned for this collection, or null",
      );
    if (typeof checkpoint !== "object" || Array.isArray(checkpoint)) throw fail();
    const { seq } = checkpoint as { seq?: unknown };
    if (typeof seq !== "string" || seq.length !== 48 || !/^[A-Za-z0-9_-]+$/.test(seq)) throw fail();
    const raw = Buffer.from(seq, "base64url");
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(`${appId}\n${collection}`));
      decipher.setAuthTag(raw.subarray(20, 36));
      const plain = Buffer.concat([decipher.update(raw.subarray(12, 20)), decipher.final()]);
      return Number(plain.readBigUInt64BE());
    } catch {
      throw fail();
    }
  }
}
