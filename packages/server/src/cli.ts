#!/usr/bin/env node
import { MeshauthError } from "@meshauth/core";
import { Command, CommanderError } from "commander";
import { type ActionRunner, registerAppCommands } from "./cli/app-commands.js";
import { registerAudienceCommands } from "./cli/audience-commands.js";
import { registerCertCommands } from "./cli/cert-commands.js";
import { registerCollectionCommands } from "./cli/collection-commands.js";
import { registerKeyCommands } from "./cli/key-commands.js";
import { output } from "./cli/output.js";
import { startHub } from "./cli/start.js";
import { registerUserCommands } from "./cli/user-commands.js";
import { CONFIG_KEYS, loadConfig } from "./config/config.js";
import { openHubCore } from "./hub.js";

const program = new Command("meshauth")
  .description("meshauth hub: identity and access control for offline-first sync")
  .option("--json", "print results as JSON (for scripts)")
  .showHelpAfterError("(add --help for usage)")
  .exitOverride();

program.addHelpText(
  "after",
  `\nConfiguration comes from the environment (or the JSON file MESHAUTH_CONFIG names):\n${Object.entries(
    CONFIG_KEYS,
  )
    .map(([k, v]) => `  ${k.padEnd(22)} ${v}`)
    .join("\n")}`,
);

program
  .command("start")
  .description("start the hub (zero configuration: SQLite and keys in ./.meshauth)")
  .action(async () => {
    await startHub(loadConfig());
  });

// Management commands work on the database directly, so they also work while no hub runs.
const run: ActionRunner =
  (fn) =>
  async (...raw) => {
    const cmd = raw[raw.length - 1] as Command;
    const opts = cmd.optsWithGlobals() as Record<string, unknown>;
    const args = raw.slice(0, -2).flat() as string[];
    const core = await openHubCore({ ...loadConfig(), demoApp: false });
    try {
      await fn(core, output(opts.json === true), args, opts);
    } finally {
      await core.close();
    }
  };

registerAppCommands(program, run);
registerKeyCommands(program, run);
registerUserCommands(program, run);
registerCertCommands(program);
registerAudienceCommands(program, run);
registerCollectionCommands(program, run);

function fail(message: string, code: string): never {
  if (program.opts().json === true)
    process.stdout.write(`${JSON.stringify({ error: code, error_description: message })}\n`);
  process.stderr.write(`meshauth: ${message}\n`);
  process.exit(1);
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version end here with exit code 0; usage errors were already printed.
    process.exit(e.exitCode);
  }
  if (e instanceof MeshauthError) fail(e.message, e.code);
  fail((e as Error).message.split("\n")[0] ?? String(e), "error");
}
