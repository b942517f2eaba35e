/**
 * Errors that mean "the database cannot serve now" rather than "this request is wrong":
 * PostgreSQL stopped, restarting or out of connections, the network to it gone, SQLite
 * locked past its busy timeout or its disk full. The hub answers them 503 `unavailable`
 * (with Retry-After) instead of 500, and recovers by itself when the database is back.
 */
import { MeshauthError } from "@meshauth/core";

const NETWORK = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

// SQLSTATE: 08 connection exceptions; 57P01-57P03 admin/crash shutdown, cannot connect
// now; 53300 too many connections; 40001/40P01 serialization failure/deadlock
// (retryable); 25006 read-only transaction (a standby after failover).
const PG_STATES = /^(08...|57P0[123]|53300|40001|40P01|25006)$/;

// node-postgres and pg-pool errors that carry no code.
const PG_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection terminated due to connection timeout)/;

// SQLite: BUSY 5, LOCKED 6, IOERR 10 (and extended), FULL 13, CANTOPEN 14, READONLY 8.
const SQLITE_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CANTOPEN)/;
const SQLITE_PRIMARY = new Set([5, 6, 8, 10, 13, 14]);

const DESCRIBE: Record<string, string> = {
  full: "storage is full",
  busy: "storage is busy",
  down: "storage is not reachable",
};

function kind(e: unknown): keyof typeof DESCRIBE | undefined {
  if (!(e instanceof Error)) return undefined;
  const err = e as Error & { code?: unknown; errcode?: unknown };
  const code = typeof err.code === "string" ? err.code : "";
  if (NETWORK.has(code) || PG_STATES.test(code) || PG_MESSAGES.test(err.message)) return "down";
  if (SQLITE_CODES.test(code)) return /FULL/.test(code) ? "full" : /BUSY|LOCKED/.test(code) ? "busy" : "down";
  if (code === "ERR_SQLITE_ERROR" && typeof err.errcode === "number") {
    const primary = err.errcode & 0xff;
    if (SQLITE_PRIMARY.has(primary)) return primary === 13 ? "full" : primary <= 6 ? "busy" : "down";
  }
  // AggregateError (several addresses refused), or an error wrapping its cause.
  if (e instanceof AggregateError) return e.errors.map(kind).find(Boolean);
  if (err.cause !== undefined && err.cause !== e) return kind(err.cause);
  return undefined;
}

/**
 * The `unavailable` error for a database failure that should be retried later, or
 * undefined for any other error.
 */
export function storageUnavailable(e: unknown): MeshauthError | undefined {
  const k = kind(e);
  if (!k) return undefined;
  return new MeshauthError("unavailable", `${DESCRIBE[k]}; try again shortly`, { retry_after: 2 });
}
