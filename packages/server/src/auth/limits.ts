import { MeshauthError } from "@meshauth/core";
import type { GuardStore } from "../storage/guard-store.js";

/** A fixed-window limit: at most `max` events per `windowSeconds`. */
export interface Limit {
  max: number;
  windowSeconds: number;
}

/** The hub's abuse limits. Email codes are short, so guessing is bounded on every axis. */
export const LIMITS = {
  /** Email codes sent to one address. */
  otpSendPerAddress: [
    { max: 1, windowSeconds: 30 },
    { max: 10, windowSeconds: 3600 },
  ],
  /** Email codes requested from one client IP. */
  otpSendPerIp: [{ max: 60, windowSeconds: 3600 }],
  /** Wrong codes for one address, over all its codes. */
  otpFailuresPerAddress: { max: 100, windowSeconds: 3600 },
  /** Wrong guesses of one code before it is dead. */
  otpAttemptsPerCode: 5,
  /** Failed client authentications from one IP. */
  clientAuthFailuresPerIp: { max: 20, windowSeconds: 300 },
} as const;

function limited(what: string, retryAfter: number): MeshauthError {
  return new MeshauthError("rate_limited", `too many ${what}; try again in ${retryAfter} seconds`, {
    retry_after: retryAfter,
  });
}

/** Counts one event against every limit; throws `rate_limited` when any is exceeded. */
export async function consume(
  guards: GuardStore,
  key: string,
  limits: readonly Limit[],
  now: number,
  what: string,
): Promise<void> {
  for (const limit of limits) {
    const count = await guards.hit(`${key}:${limit.windowSeconds}`, limit.windowSeconds, now);
    if (count > limit.max) throw limited(what, limit.windowSeconds - (now % limit.windowSeconds));
  }
}

/** Throws `rate_limited` if a limit is already reached, without counting. */
export async function check(
  guards: GuardStore,
  key: string,
  limit: Limit,
  now: number,
  what: string,
): Promise<void> {
  if ((await guards.count(`${key}:${limit.windowSeconds}`, limit.windowSeconds, now)) >= limit.max) {
    throw limited(what, limit.windowSeconds - (now % limit.windowSeconds));
  }
}

/** Counts a failure against a limit (checked separately with `check`). */
export async function countFailure(
  guards: GuardStore,
  key: string,
  limit: Limit,
  now: number,
): Promise<void> {
  await guards.hit(`${key}:${limit.windowSeconds}`, limit.windowSeconds, now);
}
