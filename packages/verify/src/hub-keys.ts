import { createRemoteJWKSet, customFetch, type JWTVerifyGetKey } from "jose";
import { VerifyError } from "./errors.js";

/** What the verifier needs from the hub's discovery document. */
export interface HubMetadata {
  issuer: string;
  jwksUri: string;
  /** `{client_id}` already filled in; absent when the hub does not publish revocation lists. */
  revocationsUri?: string;
  /** RFC 7662 endpoint; absent when the hub has none. */
  introspectionUri?: string;
}

export interface HubKeysOptions {
  hub: string;
  appId: string;
  fetch: typeof fetch;
  /** Least time between two JWKS fetches triggered by an unknown `kid`, in seconds. */
  cooldownSeconds: number;
  /** How long a fetched JWKS is trusted before it is fetched again anyway, in seconds. */
  maxAgeSeconds: number;
}

/**
 * The hub's metadata (RFC 8414 discovery, fetched once, again after a failure) and its
 * signing keys (jose's remote JWKS: cached, refetched when a token names an unknown
 * `kid`, at most once per cooldown, so a flood of made-up `kid`s cannot hammer the hub).
 */
export class HubKeys {
  #metadata: Promise<HubMetadata> | undefined;
  #jwks: JWTVerifyGetKey | undefined;

  constructor(private readonly options: HubKeysOptions) {}

  metadata(): Promise<HubMetadata> {
    if (!this.#metadata) {
      this.#metadata = this.#discover();
      this.#metadata.catch(() => {
        this.#metadata = undefined;
      });
    }
    return this.#metadata;
  }

  /** A jose key resolver for tokens and revocation lists signed by the hub. */
  async keys(): Promise<JWTVerifyGetKey> {
    if (!this.#jwks) {
      const { jwksUri } = await this.metadata();
      this.#jwks = createRemoteJWKSet(new URL(jwksUri), {
        cooldownDuration: this.options.cooldownSeconds * 1000,
        cacheMaxAge: this.options.maxAgeSeconds * 1000,
        timeoutDuration: 5000,
        [customFetch]: this.options.fetch,
      });
    }
    return this.#jwks;
  }

  async #discover(): Promise<HubMetadata> {
    const { hub, appId } = this.options;
    const url = `${hub.replace(/\/$/, "")}/.well-known/oauth-authorization-server`;
    let doc: Record<string, unknown>;
    try {
      const res = await this.options.fetch(url, { headers: { accept: "application/json" } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = (await res.json()) as Record<string, unknown>;
    } catch (error) {
      throw new VerifyError("temporarily_unavailable", "the hub cannot be reached", {
        reason: `discovery at ${url} failed: ${(error as Error).message}`,
      });
    }
    // RFC 8414 §3.3: the document must name the issuer it was fetched for.
    if (doc["issuer"] !== hub || typeof doc["jwks_uri"] !== "string") {
      throw new VerifyError("temporarily_unavailable", "the hub's metadata does not fit", {
        reason: `discovery at ${url} names issuer ${JSON.stringify(doc["issuer"])}, expected ${JSON.stringify(hub)}`,
      });
    }
    const metadata: HubMetadata = { issuer: hub, jwksUri: doc["jwks_uri"] };
    const revocations = doc["revocations_uri"];
    if (typeof revocations === "string") {
      metadata.revocationsUri = revocations.replace("{client_id}", encodeURIComponent(appId));
    }
    const introspection = doc["introspection_endpoint"];
    if (typeof introspection === "string") metadata.introspectionUri = introspection;
    return metadata;
  }
}
