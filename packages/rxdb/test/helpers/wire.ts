// A fetch for the SDK that records what crosses the wire on the sync endpoints (pull and
// push bodies and answers, every stream frame) and can cut the network: while "offline"
// new requests fail as fetch fails on a dead network, and open streams are torn down.
import type { PullAnswer, PullRequest, PushAnswer, PushRequest, StreamFrame } from "@meshauth/sync";
import { parseStreamFrame } from "@meshauth/sync";
import { createParser } from "eventsource-parser";

export interface Exchange<Req, Ans> {
  request: Req;
  status: number;
  answer: Ans | undefined;
}

export interface WireLog {
  pulls: Exchange<PullRequest, PullAnswer>[];
  pushes: Exchange<PushRequest, PushAnswer>[];
  /** Every frame of every stream, in arrival order. */
  frames: StreamFrame[];
  /** Stream connections the hub accepted. */
  streams: number;
}

export interface Wire {
  fetch: typeof fetch;
  log: WireLog;
  offline(): void;
  online(): void;
  /** Requests attempted while offline. */
  readonly refusedWhileOffline: number;
}

export function wire(): Wire {
  const log: WireLog = { pulls: [], pushes: [], frames: [], streams: 0 };
  let down = false;
  let refused = 0;
  const open = new Set<AbortController>();

  const fetchFn: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    if (down) {
      refused++;
      throw new TypeError("fetch failed (network down in the test)");
    }
    const path = new URL(request.url).pathname;
    const cut = new AbortController();
    open.add(cut);
    const signal = AbortSignal.any([request.signal, cut.signal]);
    const body = request.method === "POST" ? await request.clone().text() : undefined;
    let response: Response;
    try {
      response = await globalThis.fetch(new Request(request, { signal }));
    } catch (e) {
      open.delete(cut);
      if (cut.signal.aborted) throw new TypeError("fetch failed (network down in the test)");
      throw e;
    }
    if (path.endsWith("/stream") && response.ok && response.body) {
      log.streams++;
      const [mine, copy] = response.body.tee();
      void readCopy(copy, log.frames).finally(() => open.delete(cut));
      return new Response(mine, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    }
    open.delete(cut);
    if (body !== undefined && (path.endsWith("/pull") || path.endsWith("/push"))) {
      const answer = response.ok ? await response.clone().json() : undefined;
      const entry = { request: JSON.parse(body), status: response.status, answer };
      if (path.endsWith("/pull")) log.pulls.push(entry);
      else log.pushes.push(entry);
    }
    return response;
  };

  return {
    fetch: fetchFn,
    log,
    offline() {
      down = true;
      for (const c of open) c.abort();
      open.clear();
    },
    online() {
      down = false;
    },
    get refusedWhileOffline() {
      return refused;
    },
  };
}

async function readCopy(body: ReadableStream<Uint8Array>, frames: StreamFrame[]): Promise<void> {
  const parser = createParser({ onEvent: (e) => frames.push(parseStreamFrame(e.data)) });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } catch {
    // torn down
  }
}

/** Every document that crossed the wire to this client (pull answers and stream frames). */
export function receivedDocuments(log: WireLog): Record<string, unknown>[] {
  const docs: Record<string, unknown>[] = [];
  for (const pull of log.pulls)
    docs.push(...((pull.answer?.documents ?? []) as unknown as Record<string, unknown>[]));
  for (const frame of log.frames) {
    if (typeof frame === "object" && "documents" in frame) {
      docs.push(...(frame.documents as unknown as Record<string, unknown>[]));
    }
  }
  return docs;
}

/** Every row this client pushed. */
export function pushedRows(log: WireLog): PushRequest["rows"][number][] {
  return log.pushes.flatMap((p) => [...p.request.rows]);
}
