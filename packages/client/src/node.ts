import { homedir } from "node:os";
import { join } from "node:path";
import { Client } from "./client.js";
import { checkOptions } from "./create-client.js";
import { fileStore } from "./stores/file.js";
import { attachTerminalDialog } from "./terminal-dialog.js";
import type { ClientOptions, MeshauthClient } from "./types.js";

export * from "./index.js";
export { fileStore } from "./stores/file.js";
export { attachTerminalDialog, type TerminalDialogOptions } from "./terminal-dialog.js";

export interface NodeClientOptions extends ClientOptions {
  /**
   * The directory for this app's device key (PKCS#8, mode 0600), session and
   * certificate. Default: ~/.config/meshauth/<hub host>/<appId>.
   */
  dir?: string;
}

/** `createClient` for Node: the same client, with keys and tokens in a directory. */
export function createClient(options: NodeClientOptions): MeshauthClient {
  checkOptions(options);
  const dir =
    options.dir ??
    join(homedir(), ".config", "meshauth", new URL(options.hub).host.replace(/[^\w.-]/g, "_"), options.appId);
  // Without a dialog of the app's own, a terminal asks; elsewhere (a service) nothing can.
  const dialog = process.stdin.isTTY
    ? (source: Parameters<typeof attachTerminalDialog>[0]) => void attachTerminalDialog(source)
    : undefined;
  return new Client(options, options.store ?? fileStore(dir), dialog);
}
