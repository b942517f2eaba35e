import { MeshauthError } from "@meshauth/core";
import type { Kysely } from "kysely";
import type { Store } from "../storage/store.js";
import type { AppService } from "./app-service.js";
import { int, invalid, isRecord, onlyKeys, requireRecord, str } from "./validate.js";

/** Longest life of a bearer token minted for another engine (seconds): 15 minutes. */
export const MAX_BEARER_TTL_SECONDS = 900;
export const DEFAULT_BEARER_TTL_SECONDS = 300;

/** Which claims a bearer token for one audience carries besides iss, sub, aud, exp, iat, jti, sid. */
export interface TokenShape {
  /** The `role` claim (Supabase and Hasura read it); default "authenticated". */
  role: string;
  /** Name of the flattened-permissions claim (["read:notes", "write:*"]); null leaves it out. */
  permissionsClaim: string | null;
  /** Name of the claim holding the app's ID; null leaves it out. Default "app_id". */
  appClaim: string | null;
  /** Fixed claims for this audience, e.g. a tenant: {"tenant_id": "acme"}. */
  claims: Record<string, string | number | boolean>;
  /** Claims copied from the user's userInfo: claim name -> userInfo member (e.g. {"tenant": "org"}). */
  userInfoClaims: Record<string, string>;
}

export interface TokenAudience extends TokenShape {
  appId: string;
  audience: string;
  ttlSeconds: number;
  createdAt: number;
  updatedAt: number;
}

/** Claims the hub sets itself; a shape may not name them. */
const RESERVED = [
  "iss",
  "sub",
  "aud",
  "exp",
  "iat",
  "nbf",
  "jti",
  "sid",
  "cnf",
  "role",
  "client_id",
  "scope",
];
const CLAIM_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;
const SHAPE_KEYS = ["ttlSeconds", "role", "permissionsClaim", "appClaim", "claims", "userInfoClaims"];

interface TokenAudiencesTable {
  app_id: string;
  audience: string;
  ttl_seconds: number;
  shape: string;
  created_at: number;
  updated_at: number;
}

function claimName(v: unknown, field: string): string {
  const name = str(v, field, {
    max: 64,
    pattern: CLAIM_NAME,
    hint: "a claim name (letters, digits, _ . : -)",
  });
  if (RESERVED.includes(name))
    invalid(field, `a claim the hub does not set itself (not ${RESERVED.join(", ")})`, v);
  return name;
}

/** Checks an admin's audience settings; unknown members, reserved claims and bad types are refused. */
export function parseAudienceSettings(body: unknown): { ttlSeconds: number; shape: TokenShape } {
  const b = requireRecord(body ?? {}, "body");
  onlyKeys(b, SHAPE_KEYS, "");
  const ttlSeconds =
    b["ttlSeconds"] === undefined
      ? DEFAULT_BEARER_TTL_SECONDS
      : int(b["ttlSeconds"], "ttlSeconds", 30, MAX_BEARER_TTL_SECONDS, "seconds");
  const role = b["role"] === undefined ? "authenticated" : str(b["role"], "role", { max: 64 });
  const optionalName = (key: "permissionsClaim" | "appClaim", fallback: string) =>
    b[key] === undefined ? fallback : b[key] === null ? null : claimName(b[key], key);
  const claims: TokenShape["claims"] = {};
  for (const [name, value] of Object.entries(
    b["claims"] === undefined ? {} : requireRecord(b["claims"], "claims"),
  )) {
    claimName(name, `claims.${name}`);
    if (
      !["string", "number", "boolean"].includes(typeof value) ||
      (typeof value === "string" && value.length > 256)
    )
      invalid(`claims.${name}`, "a string (up to 256 characters), number or boolean", value);
    claims[name] = value as string | number | boolean;
  }
  const userInfoClaims: Record<string, string> = {};
  const mapping =
    b["userInfoClaims"] === undefined ? {} : requireRecord(b["userInfoClaims"], "userInfoClaims");
  for (const [name, member] of Object.entries(mapping)) {
    claimName(name, `userInfoClaims.${name}`);
    userInfoClaims[name] = str(member, `userInfoClaims.${name}`, { max: 64 });
  }
  const shape: TokenShape = {
    role,
    permissionsClaim: optionalName("permissionsClaim", "permissions"),
    appClaim: optionalName("appClaim", "app_id"),
    claims,
    userInfoClaims,
  };
  const names = [
    shape.permissionsClaim,
    shape.appClaim,
    ...Object.keys(claims),
    ...Object.keys(userInfoClaims),
  ];
  const dup = names.find((n, i) => n !== null && names.indexOf(n) !== i);
  if (dup) invalid("claims", `each claim named once; ${JSON.stringify(dup)} appears twice`);
  return { ttlSeconds, shape };
}

/** The audience itself: an identifier or URL that is not the app (its DPoP tokens) nor the hub. */
export function parseAudience(value: unknown, appId: string, issuer: string): string {
  const audience = str(value, "audience", {
    max: 512,
    pattern: /^[\x21-\x7e]+$/,
    hint: "a URL or identifier without spaces (up to 512 characters)",
  });
  // A bearer token for the app's own audience would pass as an app token where only `aud` is checked.
  if (audience === appId || audience === issuer)
    invalid("audience", "another service's identifier (not the app's ID or the hub's URL)", value);
  return audience;
}

/** The audiences configured per app (table token_audiences, migration 007). */
export class TokenAudiences {
  readonly #db: Kysely<{ token_audiences: TokenAudiencesTable }>;

  constructor(
    store: Store,
    private readonly apps: AppService,
    private readonly issuer: string,
    private readonly now: () => number,
  ) {
    this.#db = store.db as unknown as Kysely<{ token_audiences: TokenAudiencesTable }>;
  }

  async list(appRef: string): Promise<TokenAudience[]> {
    const app = await this.apps.resolve(appRef);
    const rows = await this.#db
      .selectFrom("token_audiences")
      .selectAll()
      .where("app_id", "=", app.id)
      .orderBy("audience")
      .execute();
    return rows.map(toAudience);
  }

  /** The settings for one audience of an app (by ID), or undefined. */
  async find(appId: string, audience: string): Promise<TokenAudience | undefined> {
    const row = await this.#db
      .selectFrom("token_audiences")
      .selectAll()
      .where("app_id", "=", appId)
      .where("audience", "=", audience)
      .executeTakeFirst();
    return row ? toAudience(row) : undefined;
  }

  /** Creates or replaces an audience's settings. */
  async put(appRef: string, audienceInput: unknown, body: unknown): Promise<TokenAudience> {
    const app = await this.apps.resolve(appRef);
    const audience = parseAudience(audienceInput, app.id, this.issuer);
    const { ttlSeconds, shape } = parseAudienceSettings(body);
    const now = this.now();
    const existing = await this.find(app.id, audience);
    if (existing) {
      await this.#db
        .updateTable("token_audiences")
        .set({ ttl_seconds: ttlSeconds, shape: JSON.stringify(shape), updated_at: now })
        .where("app_id", "=", app.id)
        .where("audience", "=", audience)
        .execute();
    } else {
      await this.#db
        .insertInto("token_audiences")
        .values({
          app_id: app.id,
          audience,
          ttl_seconds: ttlSeconds,
          shape: JSON.stringify(shape),
          created_at: now,
          updated_at: now,
        })
        .execute();
    }
    return (await this.find(app.id, audience)) as TokenAudience;
  }

  async remove(appRef: string, audience: string): Promise<void> {
    const app = await this.apps.resolve(appRef);
    const result = await this.#db
      .deleteFrom("token_audiences")
      .where("app_id", "=", app.id)
      .where("audience", "=", audience)
      .executeTakeFirst();
    if (Number(result.numDeletedRows) === 0)
      throw new MeshauthError(
        "not_found",
        `app ${app.name} has no token audience ${JSON.stringify(audience)}`,
      );
  }
}

function toAudience(row: TokenAudiencesTable): TokenAudience {
  const shape = JSON.parse(row.shape) as TokenShape;
  return {
    appId: row.app_id,
    audience: row.audience,
    ttlSeconds: Number(row.ttl_seconds),
    ...shape,
    claims: isRecord(shape.claims) ? shape.claims : {},
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
