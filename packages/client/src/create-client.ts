import { Client } from "./client.js";
import { indexedDbStore } from "./stores/indexeddb.js";
import type { ClientStore } from "./stores/types.js";
import type { ClientOptions, MeshauthClient } from "./types.js";

/**
 * Creates the SDK for one app on one hub. In a browser the device key and session live
 * in IndexedDB unless `store` says otherwise; in Node use `@meshauth/client/node`,
 * whose `createClient` keeps them in a directory.
 */
export function createClient(options: ClientOptions): MeshauthClient {
  checkOptions(options);
  return new Client(options, options.store ?? defaultStore(options));
}

export function checkOptions(options: ClientOptions): void {
  if (typeof options !== "object" || options === null)
    throw new TypeError("createClient: pass an options object");
  let hub: URL;
  try {
    hub = new URL(options.hub);
  } catch {
    throw new TypeError(
      `createClient: hub must be the hub's URL, got ${JSON.stringify(String(options.hub))}`,
    );
  }
  if (hub.protocol !== "https:" && hub.protocol !== "http:") {
    throw new TypeError(`createClient: hub must be an http(s) URL, got ${hub.protocol}`);
  }
  if (typeof options.appId !== "string" || options.appId === "") {
    throw new TypeError("createClient: appId must be the app's ID (its client_id)");
  }
}

function defaultStore(options: ClientOptions): ClientStore {
  if (typeof indexedDB === "undefined") {
    throw new TypeError(
      "createClient: this runtime has no IndexedDB; in Node import createClient from " +
        '"@meshauth/client/node" (keys and tokens in a directory) or pass a store',
    );
  }
  return indexedDbStore({ scope: `${new URL(options.hub).origin}|${options.appId}` });
}
