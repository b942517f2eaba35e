import { createPrivateKey, generateKeyPairSync, type KeyObject, sign, webcrypto } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, type JWK, type JWTPayload } from "jose";
import type { SigningAlg } from "../config/config.js";
import type { SecretBox } from "../crypto/secrets.js";
import type { SigningKeyRow, Store } from "../storage/store.js";

/**
 * The longest any token signed by a hub key may live (access tokens are capped at a
 * day), plus clock skew. A retired key stays in the JWKS this long, so every token it
 * signed can still be verified until it expires.
 */
export const RETIRED_KEY_PUBLISH_SECONDS = 86_400 + 300;

/** How long a process trusts its cached view of the keys; other hub processes (or the CLI) may rotate. */
const CACHE_SECONDS = 30;

/** What /jwks.json tells caches (`Cache-Control: max-age`). */
export const JWKS_MAX_AGE_SECONDS = 60;

/**
 * How long a new key is published before it signs: longer than a resource server's
 * cached JWKS (max-age), another hub process's cached view and clock skew together,
 * so no verifier ever sees a token whose key it has not yet been shown.
 */
export const KEY_PUBLISH_AHEAD_SECONDS = JWKS_MAX_AGE_SECONDS + CACHE_SECONDS + 90;

export interface ActiveKey {
  kid: string;
  alg: SigningAlg;
  privateKey: KeyObject;
  /** The same key for WebCrypto-based signers (revocation lists). */
  cryptoKey: webcrypto.CryptoKey;
}

export interface PublicKeyInfo {
  kid: string;
  alg: string;
  /**
   * `active`: signs now; `next`: published, signs from `signsFrom` (after a rotation);
   * `retiring`: no longer signs, still published so its tokens verify; `retired`: gone
   * from the JWKS.
   */
  status: "active" | "next" | "retiring" | "retired";
  createdAt: number;
  retiredAt: number | null;
  publishUntil: number | null;
}

function generate(alg: SigningAlg): { privateKey: KeyObject; publicKey: KeyObject } {
  return alg === "EdDSA"
    ? generateKeyPairSync("ed25519")
    : generateKeyPairSync("ec", { namedCurve: "P-256" });
}

/**
 * The key that signs at `now`: of the keys not yet retired, the one retiring first (the
 * outgoing key of a handover), else the newest (two hubs starting at once may each make
 * one). Every process computes the same from the same rows.
 */
function signerOf(rows: SigningKeyRow[], now: number): SigningKeyRow | undefined {
  const live = rows.filter((k) => (k.retiredAt === null || k.retiredAt > now) && k.privateKeySealed !== null);
  const retiring = live
    .filter((k) => k.retiredAt !== null)
    .sort((a, b) => (a.retiredAt as number) - (b.retiredAt as number))[0];
  return retiring ?? live.sort((a, b) => b.createdAt - a.createdAt)[0];
}

/** The hub's JWT signing keys: creation, rotation, retirement, JWKS and signing. */
export class SigningKeys {
  #cache: { until: number; active: ActiveKey; published: SigningKeyRow[] } | undefined;

  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    private readonly alg: SigningAlg,
    private readonly now: () => number,
  ) {}

  /** Makes a new key, stores it encrypted and returns its row (not yet retiring others). */
  async #create(): Promise<SigningKeyRow> {
    const { privateKey, publicKey } = generate(this.alg);
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" });
    const row: SigningKeyRow = {
      kid,
      alg: this.alg,
      publicJwk: { ...publicJwk, kid, alg: this.alg, use: "sig" },
      privateKeySealed: this.box.seal(pkcs8, `signing-key:${kid}`),
      createdAt: this.now(),
      retiredAt: null,
      publishUntil: null,
    };
    await this.store.insertSigningKey(row);
    return row;
  }

  /** Creates the first key if there is none. Returns true when it did. */
  async ensure(): Promise<boolean> {
    const published = await this.store.publishedSigningKeys(this.now());
    if (published.some((k) => k.retiredAt === null)) return false;
    await this.#create();
    this.#cache = undefined;
    return true;
  }

  /**
   * Makes a new key. It is published at once and signs KEY_PUBLISH_AHEAD_SECONDS later,
   * when the current key retires, so resource servers with a cached JWKS never meet a
   * token they cannot verify. `immediate` (an emergency: the old key may be compromised)
   * switches signing at once and accepts that gap. Either way old keys stay published
   * until every token they signed has expired.
   */
  async rotate(
    options: { immediate?: boolean } = {},
  ): Promise<{ kid: string; retired: string[]; purged: number; signsFrom: number }> {
    const now = this.now();
    const switchAt = options.immediate ? now : now + KEY_PUBLISH_AHEAD_SECONDS;
    return this.store.transaction(async (tx) => {
      const before = (await tx.publishedSigningKeys(now))
        .filter((k) => k.retiredAt === null || k.retiredAt > now)
        .map((k) => k.kid);
      const row = await new SigningKeys(tx, this.box, this.alg, this.now).#create();
      await tx.retireSigningKeys(row.kid, switchAt, switchAt + RETIRED_KEY_PUBLISH_SECONDS);
      // An emergency also ends a handover still under way.
      if (options.immediate)
        await tx.retireScheduledSigningKeys(row.kid, now, now + RETIRED_KEY_PUBLISH_SECONDS);
      const purged = await tx.purgeSigningKeys(now);
      this.#cache = undefined;
      const pending = (await tx.publishedSigningKeys(now)).filter(
        (k) => k.retiredAt !== null && k.retiredAt > now,
      );
      const signsFrom = Math.max(now, ...pending.map((k) => k.retiredAt as number));
      return { kid: row.kid, retired: before, purged, signsFrom };
    });
  }

  async list(): Promise<PublicKeyInfo[]> {
    const now = this.now();
    const all = await this.store.allSigningKeys();
    const signer = signerOf(
      all.filter((k) => k.publishUntil === null || k.publishUntil > now),
      now,
    );
    return all.map((k) => ({
      kid: k.kid,
      alg: k.alg,
      status:
        k.kid === signer?.kid
          ? "active"
          : k.retiredAt === null
            ? "next"
            : k.retiredAt > now || (k.publishUntil !== null && k.publishUntil > now)
              ? "retiring"
              : "retired",
      createdAt: k.createdAt,
      retiredAt: k.retiredAt,
      publishUntil: k.publishUntil,
    }));
  }

  async #load(): Promise<{ active: ActiveKey; published: SigningKeyRow[] }> {
    const now = this.now();
    if (this.#cache && now < this.#cache.until) return this.#cache;
    const published = await this.store.publishedSigningKeys(now);
    const newest = signerOf(published, now);
    if (!newest?.privateKeySealed) throw new Error("no active signing key; run `meshauth keys rotate`");
    const pkcs8 = this.box.open(newest.privateKeySealed, `signing-key:${newest.kid}`);
    const active: ActiveKey = {
      kid: newest.kid,
      alg: newest.alg as SigningAlg,
      privateKey: createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }),
      cryptoKey: await webcrypto.subtle.importKey(
        "pkcs8",
        pkcs8,
        newest.alg === "EdDSA" ? { name: "Ed25519" } : { name: "ECDSA", namedCurve: "P-256" },
        false,
        ["sign"],
      ),
    };
    // Not past the signer's scheduled retirement, so every process switches on time.
    const until = Math.min(now + CACHE_SECONDS, newest.retiredAt ?? Number.POSITIVE_INFINITY);
    this.#cache = { until, active, published };
    return this.#cache;
  }

  async active(): Promise<ActiveKey> {
    return (await this.#load()).active;
  }

  /** The public JWK set: the active key and retired keys still published. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const { published } = await this.#load();
    return { keys: published.map((k) => k.publicJwk as JWK) };
  }

  /**
   * Signs a JWT with the active key. `typ` names the token kind (e.g. `at+jwt`). The
   * compact JWS is built here and signed with node:crypto, synchronously: the same bytes
   * jose's SignJWT makes, without a WebCrypto job per token on the hub's hot path.
   */
  async sign(payload: JWTPayload, typ: string): Promise<string> {
    const key = await this.active();
    const header = Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid, typ })).toString("base64url");
    const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
    const signature =
      key.alg === "EdDSA"
        ? sign(null, Buffer.from(input), key.privateKey)
        : sign("sha256", Buffer.from(input), { key: key.privateKey, dsaEncoding: "ieee-p1363" });
    return `${input}.${signature.toString("base64url")}`;
  }
}
