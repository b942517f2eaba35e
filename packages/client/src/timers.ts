/** setTimeout's longest delay (about 24.8 days); sessions last months. */
const MAX_DELAY = 2 ** 31 - 1;

export interface Timer {
  cancel(): void;
}

/**
 * Runs `fn` at `at` (ms since the epoch), however far away, without keeping a Node
 * process alive for it (a CLI using the SDK must be able to exit).
 */
export function runAt(at: number, fn: () => void): Timer {
  let handle: ReturnType<typeof setTimeout> | undefined;
  let cancelled = false;
  const arm = () => {
    const delay = Math.max(0, at - Date.now());
    handle = setTimeout(
      () => {
        if (cancelled) return;
        if (Date.now() < at) arm();
        else fn();
      },
      Math.min(delay, MAX_DELAY),
    );
    (handle as { unref?: () => void }).unref?.();
  };
  arm();
  return {
    cancel() {
      cancelled = true;
      if (handle !== undefined) clearTimeout(handle);
    },
  };
}

/** Delay before retry number `attempt` (0-based): 1 s doubling to 5 min, with ±20% jitter. */
export function backoff(attempt: number): number {
  const base = Math.min(1000 * 2 ** attempt, 5 * 60_000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/**
 * When to refresh an access token living from `issuedAt` to `expiresAt`: at about
 * 75% of its life, minus up to 10% jitter so that many devices (or tabs) that logged in
 * together do not all refresh in the same second.
 */
export function refreshAt(issuedAt: number, expiresAt: number): number {
  const life = Math.max(0, expiresAt - issuedAt);
  const lead = Math.max(Math.min(30_000, life / 2), life * 0.25) + Math.random() * life * 0.1;
  return expiresAt - lead;
}
