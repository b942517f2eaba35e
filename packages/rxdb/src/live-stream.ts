import { isAbortError, type MeshauthClient, MeshauthClientError } from "@meshauth/client";
import { type StreamChanges, type StreamEnd, SYNC_LIMITS } from "@meshauth/sync";
import { readFrames } from "./event-stream.js";
import type { SyncEndpoints } from "./hub-requests.js";

export type StreamStatus = "connecting" | "live" | "offline" | "stopped";

export interface LiveStreamEvents {
  changes(frame: StreamChanges): void;
  /** Pull from the checkpoint: sent on every (re)connect and whenever the hub may have missed changes. */
  resync(): void;
  /** A connection failed or was refused (it is retried with backoff). */
  error(error: MeshauthClientError): void;
  /** The hub ended the stream with a reason. */
  ended(end: StreamEnd): void;
  status(status: StreamStatus): void;
}

/** No byte at all (not even a heartbeat comment) for this long: the connection is dead. */
const SILENCE_MS = 2 * SYNC_LIMITS.streamHeartbeatMs + 5_000;

/** Delay before reconnect number `attempt` (0-based): 1 s doubling to 30 s, with ±20% jitter. */
export function reconnectDelay(attempt: number): number {
  return Math.round(Math.min(1000 * 2 ** attempt, 30_000) * (0.8 + Math.random() * 0.4));
}

/**
 * The hub's live stream for one collection, read with fetch streaming (EventSource cannot
 * send DPoP headers) and reconnected with backoff until stopped. A stream the hub ends
 * because the token expired or the rules changed is reopened at once after a refresh;
 * one it ends because the session is over triggers a refresh, which makes the SDK log
 * out (and the replication stop the stream).
 */
export class LiveStream {
  #run: AbortController | undefined;
  #connection: AbortController | undefined;
  #now = false;

  constructor(
    private readonly client: MeshauthClient,
    private readonly endpoints: SyncEndpoints,
    private readonly events: LiveStreamEvents,
  ) {}

  get running(): boolean {
    return this.#run !== undefined;
  }

  start(): void {
    if (this.#run) return;
    const run = new AbortController();
    this.#run = run;
    void this.#loop(run.signal).finally(() => {
      if (this.#run === run) this.#run = undefined;
      this.events.status("stopped");
    });
  }

  stop(): void {
    this.#run?.abort();
    this.#run = undefined;
  }

  /** Drops the current connection and opens a new one at once (after coming back online). */
  reconnect(): void {
    this.#now = true;
    this.#connection?.abort();
  }

  async #loop(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      this.events.status("connecting");
      let immediate = false;
      try {
        const end = await this.#connectOnce(signal, () => {
          attempt = 0;
          this.events.status("live");
        });
        if (end) {
          this.events.ended(end);
          immediate = await this.#afterEnd(end);
        }
      } catch (e) {
        if (signal.aborted) return;
        if (!isAbortError(e)) this.events.error(toClientError(e));
        // Logged out meanwhile: the replication stops this stream; nothing to retry.
        if (!this.client.currentUser.value.isLoggedIn) return;
      }
      if (signal.aborted) return;
      if (immediate || this.#now) {
        this.#now = false;
        attempt = 0;
        continue;
      }
      this.events.status("offline");
      await wait(reconnectDelay(attempt++), signal);
    }
  }

  /** One connection: resolves with the hub's end frame, or undefined when the body just ended. */
  async #connectOnce(signal: AbortSignal, opened: () => void): Promise<StreamEnd | undefined> {
    const connection = new AbortController();
    this.#connection = connection;
    const abort = () => connection.abort();
    signal.addEventListener("abort", abort, { once: true });
    let silence: ReturnType<typeof setTimeout> | undefined;
    const alive = () => {
      clearTimeout(silence);
      silence = setTimeout(abort, SILENCE_MS);
    };
    try {
      alive();
      const response = await this.endpoints.stream(connection.signal);
      opened();
      let end: StreamEnd | undefined;
      let first = true;
      await readFrames(response.body as ReadableStream<Uint8Array>, {
        alive,
        frame: (frame) => {
          if (end) return;
          const wasFirst = first;
          first = false;
          if (frame === "RESYNC") return this.events.resync();
          // The hub opens with RESYNC; should it not, pull anyway before applying changes.
          if (wasFirst) this.events.resync();
          if ("error" in frame) end = frame;
          else this.events.changes(frame);
        },
      });
      return end;
    } finally {
      clearTimeout(silence);
      signal.removeEventListener("abort", abort);
      if (this.#connection === connection) this.#connection = undefined;
    }
  }

  /** What an end frame means for the next connection; true: reconnect without waiting. */
  async #afterEnd(end: StreamEnd): Promise<boolean> {
    switch (end.error) {
      case "rules_changed":
      case "invalid_token":
      case "session_revoked":
      case "user_disabled":
        try {
          // New permissions or a new token; for an ended session the hub refuses the
          // refresh and the SDK logs out, which stops this stream.
          await this.client.refresh();
          return true;
        } catch (e) {
          this.events.error(toClientError(e));
          return false;
        }
      default:
        return false;
    }
  }
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      globalThis.removeEventListener?.("online", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    // A browser that says it is back online is worth trying at once.
    if (typeof window !== "undefined") globalThis.addEventListener?.("online", done, { once: true });
  });
}

export function toClientError(e: unknown): MeshauthClientError {
  if (e instanceof MeshauthClientError) return e;
  return new MeshauthClientError("internal_error", e instanceof Error ? e.message : String(e), { cause: e });
}
