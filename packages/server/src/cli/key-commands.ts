import type { Command } from "commander";
import type { ActionRunner } from "./app-commands.js";
import { formatTime, table } from "./output.js";

export function registerKeyCommands(program: Command, run: ActionRunner): void {
  const keys = program.command("keys").description("the hub's token signing keys");

  keys
    .command("list")
    .description("list signing keys: active, retiring (still in the JWKS) and retired")
    .action(
      run(async (core, out) => {
        const list = await core.keys.list();
        out.result({ keys: list }, () =>
          table([
            ["KID", "ALG", "STATUS", "CREATED", "PUBLISHED UNTIL"],
            ...list.map((k) => [
              k.kid,
              k.alg,
              k.status,
              formatTime(k.createdAt),
              k.status === "active" ? "-" : formatTime(k.publishUntil),
            ]),
          ]),
        );
      }),
    );

  keys
    .command("rotate")
    .description(
      "make a new key: published at once, signing once every cached JWKS has seen it (about 3 minutes); older keys stay published until their tokens have expired",
    )
    .option(
      "--immediate",
      "emergency: the new key signs at once (resource servers with a cached JWKS refuse new tokens for up to a minute)",
    )
    .action(
      run(async (core, out, _args, opts) => {
        const r = await core.keys.rotate({ immediate: opts.immediate === true });
        out.result(r, () => [
          r.signsFrom > core.now()
            ? `new key ${r.kid}, published now, signs from ${formatTime(r.signsFrom)}`
            : `new active key ${r.kid}, signing now`,
          ...r.retired.map((k) => `retiring ${k} (published until its tokens have expired)`),
          ...(r.purged ? [`removed ${r.purged} expired key(s) from the JWKS`] : []),
          "running hubs follow the schedule; a switch is seen within 30 seconds",
        ]);
      }),
    );
}
