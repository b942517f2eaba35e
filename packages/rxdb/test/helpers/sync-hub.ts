// A real hub (SQLite, free port, real SMTP) with a declared collection, users who log in
// through the app backend's custom-auth grant with the permissions a test gives them, and
// the app backend's own full-access view of what the hub stores.
import { createClient, type MeshauthClient, memoryStore } from "@meshauth/client";
import { createDpopProof, generateDpopKeyPair, type Permissions } from "@meshauth/core";
import type { SyncDocument } from "@meshauth/sync";
import { type SdkTestHub, startSdkHub } from "../../../client/test/helpers/hub.js";
import { type Wire, wire } from "./wire.js";

export interface TestUser {
  client: MeshauthClient;
  wire: Wire;
  /** The permissions the next login (or `relogin`) carries. */
  permissions: Permissions;
  /** Logs in again with `permissions`: a new session with the new rules. */
  relogin(): Promise<void>;
}

export interface SyncTestHub {
  t: SdkTestHub;
  /** The hub's URL as clients use it. */
  url: string;
  /** A new device of user `sub` (its own key and store), logged in with `permissions`. */
  user(sub: string, permissions: Permissions): Promise<TestUser>;
  /** Every document of `collection` the hub stores, as the app's backend reads it (full access). */
  hubDocuments(collection: string): Promise<SyncDocument[]>;
  /** Ends every session of `sub` on the hub (admin API). */
  endSessions(sub: string): Promise<void>;
  close(): Promise<void>;
}

export const noAccess: Permissions = {
  read: { everything: false, queriesByCollection: {} },
  write: { everything: false, queriesByCollection: {} },
};

/** Permissions with read and write queries on one collection. */
export function rules(collection: string, read: string[], write: string[]): Permissions {
  return {
    read: { everything: false, queriesByCollection: { [collection]: read } },
    write: { everything: false, queriesByCollection: { [collection]: write } },
  };
}

export async function startSyncHub(
  collections: { name: string; idFields: string[] }[],
  options: { app?: Record<string, unknown> } = {},
): Promise<SyncTestHub> {
  const t = await startSdkHub({ app: { defaultPermissions: noAccess, ...options.app } });
  const url = t.hub.url;
  for (const c of collections) {
    const res = await t.admin("POST", `/apps/${t.app.id}/collections`, c);
    if (res.status !== 201 && res.status !== 200) {
      throw new Error(`cannot declare collection ${c.name}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  }
  const clients: MeshauthClient[] = [];
  const backend = await backendFetch(t, url);

  return {
    t,
    url,
    async user(sub, permissions) {
      const net = wire();
      const user: TestUser = {
        wire: net,
        permissions,
        client: createClient({
          hub: url,
          appId: t.app.id,
          store: memoryStore(),
          customLoginGui: true,
          fetch: net.fetch,
          fetchTokens: ({ jkt }) =>
            t.customAuth({ sub, dpop_jkt: jkt, permissions: JSON.stringify(user.permissions) }),
        }),
        async relogin() {
          await user.client.login();
        },
      };
      clients.push(user.client);
      await user.client.login();
      return user;
    },
    async hubDocuments(collection) {
      const all: SyncDocument[] = [];
      let checkpoint: unknown = null;
      for (;;) {
        const res = await backend(`/sync/${collection}/pull`, { checkpoint, limit: 1000 });
        const answer = (await res.json()) as { documents: SyncDocument[]; checkpoint: unknown };
        if (!res.ok) throw new Error(`backend pull: ${res.status} ${JSON.stringify(answer)}`);
        all.push(...answer.documents);
        if (answer.documents.length < 1000) return all;
        checkpoint = answer.checkpoint;
      }
    },
    async endSessions(sub) {
      const res = await t.admin("DELETE", `/apps/${t.app.id}/users/${encodeURIComponent(sub)}/sessions`);
      if (res.status !== 200)
        throw new Error(`cannot end sessions: ${res.status} ${JSON.stringify(res.body)}`);
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      // Node's fetch leaves the socket of an aborted stream open until more bytes arrive;
      // the next heartbeat would close it, but a test should not wait 15 s for it.
      t.hub.http.server.closeAllConnections();
      await t.close();
    },
  };
}

/**
 * What the app's backend does: a client-credentials token bound to its own DPoP key (full
 * access), then DPoP-signed JSON POSTs with `ath`, answering one nonce challenge.
 */
async function backendFetch(t: SdkTestHub, url: string) {
  const keys = await generateDpopKeyPair();
  let nonce: string | undefined;
  const signed = async (
    method: string,
    target: string,
    body: string,
    headers: Record<string, string>,
    token?: string,
  ) => {
    for (let attempt = 0; ; attempt++) {
      const proof = await createDpopProof({
        privateKey: keys.privateKey,
        publicKey: keys.publicKey,
        htm: method,
        htu: target,
        ...(nonce ? { nonce } : {}),
        ...(token ? { accessToken: token } : {}),
      });
      const res = await fetch(target, {
        method,
        headers: { ...headers, dpop: proof, ...(token ? { authorization: `DPoP ${token}` } : {}) },
        body,
      });
      const fresh = res.headers.get("dpop-nonce");
      if (fresh) nonce = fresh;
      if (res.status === 401 || res.status === 400) {
        const text = await res.clone().text();
        if (
          attempt === 0 &&
          fresh &&
          /use_dpop_nonce/.test(text + (res.headers.get("www-authenticate") ?? ""))
        ) {
          continue;
        }
      }
      return res;
    }
  };
  const tokenRes = await signed(
    "POST",
    `${url}/token`,
    new URLSearchParams({
      grant_type: "client_credentials",
      client_id: t.app.id,
      client_secret: t.app.clientSecret,
    }).toString(),
    { "content-type": "application/x-www-form-urlencoded" },
  );
  const tokenBody = (await tokenRes.json()) as { access_token?: string };
  if (!tokenBody.access_token) throw new Error(`backend token: ${JSON.stringify(tokenBody)}`);
  const token = tokenBody.access_token;
  return (path: string, payload: unknown) =>
    signed("POST", `${url}${path}`, JSON.stringify(payload), { "content-type": "application/json" }, token);
}
