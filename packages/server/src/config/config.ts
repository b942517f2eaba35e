import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";

export type SigningAlg = "ES256" | "EdDSA";
export type HubMode = "development" | "production";

/** The hub's validated configuration. */
export interface HubConfig {
  port: number;
  host: string;
  /** Public base URL, without a trailing slash. */
  issuer: string;
  dataDir: string;
  database: { kind: "sqlite"; path: string } | { kind: "postgres"; url: string };
  /** From MESHAUTH_ADMIN_TOKEN; when absent one is generated into the data folder. */
  adminToken: string | undefined;
  smtpUrl: string | undefined;
  /** Sender of login emails when the app sets none. */
  emailFrom: string | undefined;
  /** From MESHAUTH_MASTER_KEY (32 bytes); when absent one is generated into the data folder. */
  masterKey: Buffer | undefined;
  signingAlg: SigningAlg;
  mode: HubMode;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** Create an app named `demo` on first start. */
  demoApp: boolean;
  /**
   * Let webhooks and OIDC key sets point at loopback, link-local or metadata addresses
   * and the hub itself in production (always allowed in development).
   */
  allowInternalTargets?: boolean;
  /** Pretend the clock is this many seconds ahead (tests only). Not settable from env. */
  clockOffsetSeconds?: number;
}

/** A configuration value that cannot be used; the message names the key and what is expected. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
  }
}

type Source = Record<string, string | undefined>;

/** Every key the hub reads, with what it expects (also the README's table). */
export const CONFIG_KEYS = {
  PORT: "TCP port to listen on (0-65535, 0 picks a free one); default 4000",
  HOST: "address to bind; default 127.0.0.1",
  MESHAUTH_ISSUER: "public base URL (http:// or https://, no query); default http://HOST:PORT",
  MESHAUTH_DATA_DIR:
    "folder for the SQLite database, generated keys and the admin token; default ./.meshauth",
  DATABASE_URL: "postgres://... selects PostgreSQL; sqlite:PATH or empty uses SQLite in the data folder",
  MESHAUTH_ADMIN_TOKEN: "bearer token for /admin (at least 32 characters); generated when absent",
  MESHAUTH_SMTP_URL:
    "smtp:// or smtps:// URL for sending email codes; when absent codes go to the log and the dev mailbox",
  MESHAUTH_EMAIL_FROM:
    "sender of login emails when an app sets none, e.g. Login <login@example.com>; default no-reply@<issuer host>",
  MESHAUTH_MASTER_KEY: "32 bytes, base64 or hex, that encrypt private keys at rest; generated when absent",
  MESHAUTH_SIGNING_ALG: "ES256 (default) or EdDSA, for newly created signing keys",
  MESHAUTH_MODE: "development or production; default production when NODE_ENV=production, else development",
  LOG_LEVEL: "fatal, error, warn, info (default), debug, trace or silent",
  MESHAUTH_BODY_LIMIT: "largest request body in bytes (1024-10485760); default 65536",
  MESHAUTH_DEMO_APP: "true or false: create an app named demo on first start; default true",
  MESHAUTH_ALLOW_INTERNAL_TARGETS:
    "true lets webhooks and OIDC key sets point at loopback, link-local or metadata addresses in production; default false",
  MESHAUTH_CONFIG: "path of a JSON file holding any of these keys; the environment overrides it",
} as const;

export type ConfigKey = keyof typeof CONFIG_KEYS;

function readConfigFile(path: string): Source {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError("MESHAUTH_CONFIG", `cannot read ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError("MESHAUTH_CONFIG", `${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new ConfigError("MESHAUTH_CONFIG", `${path} must hold a JSON object of configuration keys`);
  }
  const out: Source = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key in CONFIG_KEYS) || key === "MESHAUTH_CONFIG") {
      throw new ConfigError(
        key,
        `unknown key in ${path}; expected one of ${Object.keys(CONFIG_KEYS).join(", ")}`,
      );
    }
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw new ConfigError(key, `in ${path} must be a string, number or boolean`);
    }
    out[key] = String(value);
  }
  return out;
}

function intIn(src: Source, key: ConfigKey, fallback: number, min: number, max: number): number {
  const raw = src[key]?.trim();
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(key, `expected an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(key, `expected an integer from ${min} to ${max}, got ${n}`);
  return n;
}

function oneOf<T extends string>(src: Source, key: ConfigKey, allowed: readonly T[], fallback: T): T {
  const raw = src[key]?.trim();
  if (raw === undefined || raw === "") return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(key, `expected one of ${allowed.join(", ")}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

function bool(src: Source, key: ConfigKey, fallback: boolean): boolean {
  const raw = src[key]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if (["true", "1", "yes"].includes(raw)) return true;
  if (["false", "0", "no"].includes(raw)) return false;
  throw new ConfigError(key, `expected true or false, got ${JSON.stringify(src[key])}`);
}

function parseMasterKey(raw: string): Buffer {
  const s = raw.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(s)
    ? Buffer.from(s, "hex")
    : /^[A-Za-z0-9+/_-]+={0,2}$/.test(s)
      ? Buffer.from(s, "base64")
      : undefined;
  if (key?.length !== 32) {
    throw new ConfigError(
      "MESHAUTH_MASTER_KEY",
      "expected 32 bytes as 64 hex digits or base64 (make one with: openssl rand -base64 32)",
    );
  }
  return key;
}

function parseIssuer(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError("MESHAUTH_ISSUER", `expected an absolute http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError("MESHAUTH_ISSUER", `expected an http:// or https:// URL, got ${url.protocol}`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigError("MESHAUTH_ISSUER", "must not contain a query, fragment or credentials (RFC 8414)");
  }
  return url.href.replace(/\/+$/, "");
}

/**
 * Reads configuration from the environment (and the optional JSON file it names) and
 * validates every value, throwing a ConfigError that names the first bad key.
 */
export function loadConfig(env: Source = process.env, cwd = process.cwd()): HubConfig {
  const file = env.MESHAUTH_CONFIG?.trim() ? readConfigFile(resolve(cwd, env.MESHAUTH_CONFIG.trim())) : {};
  const src: Source = { ...file };
  for (const key of Object.keys(CONFIG_KEYS)) if (env[key] !== undefined) src[key] = env[key];

  const port = intIn(src, "PORT", 4000, 0, 65535);
  const host = src.HOST?.trim() || "127.0.0.1";
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(host))
    throw new ConfigError("HOST", `expected a host name or IP address, got ${JSON.stringify(host)}`);
  const defaultIssuer = `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
  const issuer = parseIssuer(src.MESHAUTH_ISSUER?.trim() || defaultIssuer);
  const rawDir = src.MESHAUTH_DATA_DIR?.trim() || ".meshauth";
  const dataDir = isAbsolute(rawDir) ? rawDir : resolve(cwd, rawDir);

  const dbUrl = src.DATABASE_URL?.trim() ?? "";
  let database: HubConfig["database"];
  if (dbUrl === "") database = { kind: "sqlite", path: join(dataDir, "meshauth.sqlite") };
  else if (/^postgres(ql)?:\/\//.test(dbUrl)) database = { kind: "postgres", url: dbUrl };
  else if (dbUrl.startsWith("sqlite:")) {
    const p = dbUrl.slice("sqlite:".length).replace(/^\/\//, "");
    if (p === "")
      throw new ConfigError("DATABASE_URL", "sqlite: needs a file path, e.g. sqlite:./data/hub.sqlite");
    database = { kind: "sqlite", path: p === ":memory:" ? p : resolve(cwd, p) };
  } else {
    throw new ConfigError("DATABASE_URL", "expected a postgres:// URL or sqlite:PATH");
  }

  const adminToken = src.MESHAUTH_ADMIN_TOKEN?.trim() || undefined;
  if (adminToken !== undefined && adminToken.length < 32) {
    throw new ConfigError(
      "MESHAUTH_ADMIN_TOKEN",
      "must be at least 32 characters (make one with: openssl rand -hex 32)",
    );
  }
  const smtpUrl = src.MESHAUTH_SMTP_URL?.trim() || undefined;
  if (smtpUrl !== undefined && !/^smtps?:\/\/[^/]/.test(smtpUrl)) {
    throw new ConfigError("MESHAUTH_SMTP_URL", "expected smtp://user:pass@host:port or smtps://...");
  }
  const emailFrom = src.MESHAUTH_EMAIL_FROM?.trim() || undefined;
  if (
    emailFrom !== undefined &&
    (!/@/.test(emailFrom) || /[\r\n]/.test(emailFrom) || emailFrom.length > 320)
  ) {
    throw new ConfigError(
      "MESHAUTH_EMAIL_FROM",
      "expected an email address, optionally with a name: Login <login@example.com>",
    );
  }
  const masterKey = src.MESHAUTH_MASTER_KEY?.trim() ? parseMasterKey(src.MESHAUTH_MASTER_KEY) : undefined;
  const mode = oneOf(
    src,
    "MESHAUTH_MODE",
    ["development", "production"] as const,
    env.NODE_ENV === "production" ? "production" : "development",
  );
  return {
    port,
    host,
    issuer,
    dataDir,
    database,
    adminToken,
    smtpUrl,
    emailFrom,
    masterKey,
    signingAlg: oneOf(src, "MESHAUTH_SIGNING_ALG", ["ES256", "EdDSA"] as const, "ES256"),
    mode,
    logLevel: oneOf(
      src,
      "LOG_LEVEL",
      ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const,
      "info",
    ),
    bodyLimit: intIn(src, "MESHAUTH_BODY_LIMIT", 65536, 1024, 10 * 1024 * 1024),
    demoApp: bool(src, "MESHAUTH_DEMO_APP", true),
    allowInternalTargets: bool(src, "MESHAUTH_ALLOW_INTERNAL_TARGETS", false),
  };
}
