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
  /** `retiring`: no longer signs, still published so its tokens verify; `retired`: gone from the JWKS. */
  status: "active" | "retiring" | "retired";
  createdAt: number;
  retiredAt: number | null;
  publishUntil: number | null;
}

function generate(alg: SigningAlg): { privateKey: KeyObject; publicKey: KeyObject } {
  return alg === "EdDSA"
    ? generateKeyPairSync("ed25519")
    : generateKeyPairSync("ec", { namedCurve: "P-256" });
}

/** The hub's JWT signing keys: creation, rotation, retirement, JWKS and signing. */
export class SigningKeys {
  #cache: { at: number; active: ActiveKey; published: SigningKeyRow[] } | undefined;

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

  /** Makes a new key active; older keys stay published until their tokens have expired. */
  async rotate(): Promise<{ kid: string; retired: string[]; purged: number }> {
    const now = this.now();
    return this.store.transaction(async (tx) => {
      const before = (await tx.publishedSigningKeys(now))
        .filter((k) => k.retiredAt === null)
        .map((k) => k.kid);
      const row = await new SigningKeys(tx, this.box, this.alg, this.now).#create();
      await tx.retireSigningKeys(row.kid, now, now + RETIRED_KEY_PUBLISH_SECONDS);
      const purged = await tx.purgeSigningKeys(now);
      this.#cache = undefined;
      return { kid: row.kid, retired: before, purged };
    });
  }

  async list(): Promise<PublicKeyInfo[]> {
    const now = this.now();
    return (await this.store.allSigningKeys()).map((k) => ({
      kid: k.kid,
      alg: k.alg,
      status:
        k.retiredAt === null
          ? "active"
          : k.publishUntil !== null && k.publishUntil > now
            ? "retiring"
            : "retired",
      createdAt: k.createdAt,
      retiredAt: k.retiredAt,
      publishUntil: k.publishUntil,
    }));
  }

  async #load(): Promise<{ active: ActiveKey; published: SigningKeyRow[] }> {
    const now = this.now();
    if (this.#cache && now - this.#cache.at < CACHE_SECONDS) return this.#cache;
    const published = await this.store.publishedSigningKeys(now);
    // Two hubs starting at once may each create a key; the newest active one signs.
    const newest = published.find((k) => k.retiredAt === null && k.privateKeySealed !== null);
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
    this.#cache = { at: now, active, published };
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
