/**
 * Remembers which DPoP proofs have been used. `use` must be atomic: of any number of
 * concurrent calls with one `id`, exactly one may return true, across every process
 * that shares the store (a database does this with a unique key on `id`). The entry
 * must be kept at least until `expiresAt` (Unix seconds, inclusive); after that the
 * proof is rejected for its age anyway, so it may be dropped.
 */
export interface ReplayCache {
  /** Records `id`; true on its first use, false if it was already recorded. */
  use(id: string, expiresAt: number): Promise<boolean>;
}

export interface MemoryReplayCacheOptions {
  /** Most entries kept at once; default 100 000. */
  maxEntries?: number;
  /** Clock in Unix seconds; defaults to the system clock. */
  now?: () => number;
}

/**
 * A ReplayCache for a single process (one hub instance, tests, a peer). Memory is
 * bounded: expired entries are dropped as it goes, and when it is full of unexpired
 * ones the oldest is evicted. Eviction makes a replay of that one proof possible
 * again, which is preferred to refusing every new proof (which anyone could force
 * by sending many proofs of their own); size it above the peak number of proofs in
 * one proof lifetime. Several hub instances need a shared store instead.
 */
export class MemoryReplayCache implements ReplayCache {
  readonly #entries = new Map<string, number>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor({ maxEntries = 100_000, now = () => Date.now() / 1000 }: MemoryReplayCacheOptions = {}) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError("maxEntries must be >= 1");
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  /** Number of entries held (expired ones may linger until the next `use`). */
  get size(): number {
    return this.#entries.size;
  }

  async use(id: string, expiresAt: number): Promise<boolean> {
    // No await before the map is updated: the check and the insert are one step.
    const now = this.#now();
    const seen = this.#entries.get(id);
    if (seen !== undefined && seen >= now) return false;
    this.#entries.delete(id);
    this.#purgeOldest(now);
    if (this.#entries.size >= this.#maxEntries) this.#purgeAll(now);
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    this.#entries.set(id, expiresAt);
    return true;
  }

  // Entries are inserted in roughly the order they expire, so most expired ones sit
  // at the front; stopping at the first live one keeps each call cheap.
  #purgeOldest(now: number): void {
    for (const [id, expiresAt] of this.#entries) {
      if (expiresAt >= now) return;
      this.#entries.delete(id);
    }
  }

  #purgeAll(now: number): void {
    for (const [id, expiresAt] of this.#entries) {
      if (expiresAt < now) this.#entries.delete(id);
    }
  }
}
