import assert from "node:assert/strict";
import { createDpopProof } from "@meshauth/core";
import { parseStreamFrame, type StreamFrame, syncPath } from "@meshauth/sync";
import { newDevice, post, type TestDevice } from "./client.js";

/** A device logged in to an app, talking to the sync endpoints as the RxDB binding does. */
export interface SyncSession {
  device: TestDevice;
  accessToken: string;
  refreshToken?: string;
  /** POST /sync/{collection}/{endpoint} with a DPoP proof (ath, nonce, one nonce retry). */
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers loosely and assert on them
  call(collection: string, endpoint: "pull" | "push", body: unknown): Promise<{ status: number; body: any }>;
  /** GET /sync/{collection}/stream; frames are collected as they arrive. */
  stream(collection: string): Promise<OpenStream>;
}

export interface OpenStream {
  status: number;
  frames: StreamFrame[];
  /** Resolves when the hub ends the stream. */
  closed: Promise<void>;
  /** Resolves with the first frame (counting from `from`) that `match` accepts. */
  next(match: (f: StreamFrame) => boolean, from?: number): Promise<StreamFrame>;
  close(): void;
}

/** The custom-auth login: the app's backend vouches for `sub` with these permissions. */
export async function loginAs(
  baseUrl: string,
  app: { id: string; clientSecret: string },
  sub: string,
  permissions?: unknown,
): Promise<SyncSession> {
  const device = await newDevice();
  const res = await post(baseUrl, "/token", {
    grant_type: "client_credentials",
    client_id: app.id,
    client_secret: app.clientSecret,
    sub,
    dpop_jkt: device.jkt,
    ...(permissions === undefined ? {} : { permissions: JSON.stringify(permissions) }),
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return syncSession(
    baseUrl,
    device,
    String(res.body.access_token),
    res.body.refresh_token as string | undefined,
  );
}

/** The app's backend: a client_credentials token for itself, bound to its key. */
export async function backendLogin(
  baseUrl: string,
  app: { id: string; clientSecret: string },
): Promise<SyncSession> {
  const device = await newDevice();
  const res = await post(
    baseUrl,
    "/token",
    { grant_type: "client_credentials", client_id: app.id, client_secret: app.clientSecret },
    device,
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return syncSession(baseUrl, device, String(res.body.access_token));
}

export function syncSession(
  baseUrl: string,
  device: TestDevice,
  accessToken: string,
  refreshToken?: string,
): SyncSession {
  const proof = (method: string, path: string) =>
    createDpopProof({
      privateKey: device.keys.privateKey,
      publicKey: device.keys.publicKey,
      htm: method,
      htu: `${baseUrl}${path}`,
      accessToken,
      ...(device.nonce ? { nonce: device.nonce } : {}),
    });
  const session: SyncSession = {
    device,
    accessToken,
    ...(refreshToken === undefined ? {} : { refreshToken }),
    async call(collection, endpoint, body) {
      const path = syncPath(collection, endpoint);
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(`${baseUrl}${path}`, {
          method: "POST",
          headers: {
            authorization: `DPoP ${accessToken}`,
            dpop: await proof("POST", path),
            "content-type": "application/json",
          },
          body: typeof body === "string" ? body : JSON.stringify(body),
        });
        const nonce = res.headers.get("dpop-nonce");
        if (nonce) device.nonce = nonce;
        const json = await res.json();
        if (json.error === "use_dpop_nonce" && attempt === 0) continue;
        return { status: res.status, body: json };
      }
    },
    async stream(collection) {
      const path = syncPath(collection, "stream");
      const controller = new AbortController();
      let res: Response;
      for (let attempt = 0; ; attempt++) {
        res = await fetch(`${baseUrl}${path}`, {
          headers: { authorization: `DPoP ${accessToken}`, dpop: await proof("GET", path) },
          signal: controller.signal,
        });
        const nonce = res.headers.get("dpop-nonce");
        if (nonce) device.nonce = nonce;
        if ((res.status === 401 || res.status === 400) && attempt === 0) {
          const json = (await res.json()) as { error?: string };
          if (json.error === "use_dpop_nonce") continue;
          return failed(res.status);
        }
        break;
      }
      if (res.status !== 200) {
        await res.body?.cancel();
        return failed(res.status);
      }
      const frames: StreamFrame[] = [];
      const waiters = new Set<() => void>();
      const closed = (async () => {
        const decoder = new TextDecoder();
        let buffer = "";
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            buffer += decoder.decode(chunk, { stream: true });
            for (let i = buffer.indexOf("\n\n"); i >= 0; i = buffer.indexOf("\n\n")) {
              const event = buffer.slice(0, i);
              buffer = buffer.slice(i + 2);
              for (const line of event.split("\n"))
                if (line.startsWith("data: ")) frames.push(parseStreamFrame(line.slice(6)));
              for (const w of waiters) w();
            }
          }
        } catch {
          // aborted by close()
        }
        for (const w of waiters) w();
      })();
      let done = false;
      void closed.then(() => {
        done = true;
      });
      return {
        status: 200,
        frames,
        closed,
        next(match, from = 0) {
          return new Promise((resolve, reject) => {
            const check = () => {
              const found = frames.slice(from).find(match);
              if (found !== undefined) {
                waiters.delete(check);
                resolve(found);
              } else if (done) {
                waiters.delete(check);
                reject(new Error(`stream ended without the frame; got ${JSON.stringify(frames)}`));
              }
            };
            waiters.add(check);
            check();
          });
        },
        close: () => controller.abort(),
      };
    },
  };
  return session;
}

function failed(status: number): OpenStream {
  return {
    status,
    frames: [],
    closed: Promise.resolve(),
    next: () => Promise.reject(new Error(`stream refused with ${status}`)),
    close: () => {},
  };
}

/** Document ids in a frame or answer, sorted, as `owner/list`. */
export function ids(docs: readonly Record<string, unknown>[]): string[] {
  return docs.map((d) => `${String(d.owner)}/${String(d.list)}`).sort();
}
