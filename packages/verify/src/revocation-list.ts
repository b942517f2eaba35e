import { mergeRevocationLists, type RevocationList, verifyRevocationList } from "@meshauth/core";
import { VerifyError } from "./errors.js";
import type { HubKeys } from "./hub-keys.js";

export interface RevocationListOptions {
  /** How old (seconds) the list may be before a request waits for a fresh one; default 30. */
  refreshSeconds?: number;
  /**
   * While the hub cannot be reached, how long (seconds) the last list keeps being used;
   * after that requests are refused with 503 rather than let revoked sessions in.
   * Default 300.
   */
  maxStaleSeconds?: number;
}

/**
 * The app's signed revocation list, fetched from the hub and kept fresh: a request that
 * finds it older than `refreshSeconds` waits for the next one (one fetch for all who
 * wait), so a session the hub ended stops working here within that interval.
 */
export class RevocationListCache {
  #list: RevocationList | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #pending: Promise<RevocationList> | undefined;
  readonly #refresh: number;
  readonly #maxStale: number;

  constructor(
    private readonly hub: HubKeys,
    private readonly appId: string,
    private readonly fetchFn: typeof fetch,
    options: RevocationListOptions,
    private readonly now: () => number,
  ) {
    this.#refresh = options.refreshSeconds ?? 30;
    this.#maxStale = options.maxStaleSeconds ?? 300;
    if (!(this.#refresh > 0 && this.#maxStale >= this.#refresh)) {
      throw new RangeError("revocations: refreshSeconds must be > 0 and maxStaleSeconds >= refreshSeconds");
    }
  }

  async current(): Promise<RevocationList> {
    const age = this.now() - this.#fetchedAt;
    if (this.#list && age < this.#refresh) return this.#list;
    try {
      return await this.#update();
    } catch (error) {
      if (this.#list && age < this.#maxStale) return this.#list;
      throw error;
    }
  }

  #update(): Promise<RevocationList> {
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #fetch(): Promise<RevocationList> {
    const { revocationsUri } = await this.hub.metadata();
    if (!revocationsUri) {
      throw new VerifyError("temporarily_unavailable", "the hub publishes no revocation list", {
        reason: "discovery has no revocations_uri",
      });
    }
    let list: RevocationList;
    try {
      const res = await this.fetchFn(revocationsUri);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      list = await verifyRevocationList(await res.text(), await this.hub.keys(), { appId: this.appId });
    } catch (error) {
      throw new VerifyError("temporarily_unavailable", "the hub's revocation list is not available", {
        reason: `revocation list from ${revocationsUri}: ${(error as Error).message}`,
      });
    }
    // A list older than the one held (a stale cache in between) never replaces it.
    this.#list = mergeRevocationLists(this.#list, list);
    this.#fetchedAt = this.now();
    return this.#list;
  }
}
