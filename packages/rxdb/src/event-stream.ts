import { parseStreamFrame, type StreamFrame, SYNC_LIMITS } from "@meshauth/sync";
import { createParser } from "eventsource-parser";

/** One frame of a stream can carry this many documents of the largest size, plus framing. */
const MAX_EVENT_BYTES = SYNC_LIMITS.maxStreamDocuments * SYNC_LIMITS.maxDocumentBytes + 64 * 1024;

export interface FrameHandlers {
  frame(frame: StreamFrame): void;
  /** Anything arrived, a heartbeat comment included: the connection is alive. */
  alive(): void;
}

/**
 * Reads a hub's `text/event-stream` body until it ends, handing over each frame.
 * Rejects on a frame that is not valid JSON of a known shape or is over the size bound,
 * so a broken or hostile stream is dropped (and reconnected) rather than half-applied.
 */
export async function readFrames(body: ReadableStream<Uint8Array>, handlers: FrameHandlers): Promise<void> {
  let failure: Error | undefined;
  const parser = createParser({
    maxBufferSize: MAX_EVENT_BYTES,
    onEvent(event) {
      if (failure) return;
      try {
        handlers.frame(parseStreamFrame(event.data));
      } catch (e) {
        failure = e instanceof Error ? e : new Error(String(e));
      }
    },
    onComment: () => handlers.alive(),
    onError(error) {
      failure ??= error;
    },
  });
  const reader = body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      handlers.alive();
      parser.feed(decoder.decode(value, { stream: true }));
      if (failure) throw failure;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}
