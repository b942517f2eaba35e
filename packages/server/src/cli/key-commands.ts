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
    .description("make a new key active; older keys stay published until every token they signed has expired")
    .action(
      run(async (core, out) => {
        const r = await core.keys.rotate();
        out.result(r, () => [
          `new active key ${r.kid}`,
          ...r.retired.map((k) => `retiring ${k} (published until its tokens have expired)`),
          ...(r.purged ? [`removed ${r.purged} expired key(s) from the JWKS`] : []),
          "running hubs pick the new key up within 30 seconds",
        ]);
      }),
    );
}
