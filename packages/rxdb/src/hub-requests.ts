import { type MeshauthClient, MeshauthClientError } from "@meshauth/client";
import {
  type PullAnswer,
  type PullRequest,
  type PushAnswer,
  type PushRequest,
  syncPath,
} from "@meshauth/sync";

/**
 * The hub's sync endpoints for one collection, called through the SDK's `client.fetch`:
 * DPoP-bound token with `ath`, nonce retry and one refresh on a refused token come from it.
 */
export class SyncEndpoints {
  readonly pullUrl: string;
  readonly pushUrl: string;
  readonly streamUrl: string;

  constructor(
    private readonly client: MeshauthClient,
    collection: string,
  ) {
    this.pullUrl = client.hub + syncPath(collection, "pull");
    this.pushUrl = client.hub + syncPath(collection, "push");
    this.streamUrl = client.hub + syncPath(collection, "stream");
  }

  async pull(request: PullRequest): Promise<PullAnswer> {
    const answer = await this.#post(this.pullUrl, request);
    if (!Array.isArray(answer["documents"]) || !("checkpoint" in answer)) {
      throw invalidAnswer(this.pullUrl);
    }
    return answer as unknown as PullAnswer;
  }

  async push(request: PushRequest): Promise<PushAnswer> {
    const answer = await this.#post(this.pushUrl, request);
    if (!Array.isArray(answer["conflicts"]) || !Array.isArray(answer["refused"])) {
      throw invalidAnswer(this.pushUrl);
    }
    return answer as unknown as PushAnswer;
  }

  /** Opens the live stream; the caller reads the body. Rejects with the hub's error when refused. */
  async stream(signal: AbortSignal): Promise<Response> {
    const response = await this.client.fetch(this.streamUrl, {
      headers: { accept: "text/event-stream" },
      cache: "no-store",
      signal,
    });
    if (!response.ok) throw await errorOf(response);
    if (!response.body) throw invalidAnswer(this.streamUrl);
    return response;
  }

  async #post(url: string, body: unknown): Promise<Record<string, unknown>> {
    const response = await this.client.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await errorOf(response);
    try {
      const json: unknown = await response.json();
      if (typeof json === "object" && json !== null && !Array.isArray(json)) {
        return json as Record<string, unknown>;
      }
    } catch {
      // fall through
    }
    throw invalidAnswer(url);
  }
}

function invalidAnswer(url: string): MeshauthClientError {
  return new MeshauthClientError("invalid_response", `the hub's answer to ${url} is not a sync answer`);
}

/** The hub's `{error, error_description}` answer as a typed error (its code is stable). */
export async function errorOf(response: Response): Promise<MeshauthClientError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  const www = /error="([^"]+)"/.exec(response.headers.get("WWW-Authenticate") ?? "")?.[1];
  const code = typeof body["error"] === "string" ? body["error"] : www;
  if (!code) {
    return new MeshauthClientError(
      response.status >= 500 ? "unavailable" : "invalid_response",
      `the hub answered HTTP ${response.status} to ${response.url} without a meshauth error`,
      { status: response.status },
    );
  }
  const message = typeof body["error_description"] === "string" ? body["error_description"] : code;
  return new MeshauthClientError(code as MeshauthClientError["code"], message, {
    status: response.status,
    details: body,
  });
}
