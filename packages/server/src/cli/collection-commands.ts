import type { Command } from "commander";
import { CollectionService } from "../sync/collections.js";
import type { ActionRunner } from "./app-commands.js";
import { formatTime, table } from "./output.js";

const fields = (value: string): string[] =>
  value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** `meshauth collection add|list|remove`: the collections an app syncs through the hub. */
export function registerCollectionCommands(program: Command, run: ActionRunner): void {
  const collection = program.command("collection").description("an app's synced collections (docs/sync.md)");
  const service = (core: Parameters<Parameters<ActionRunner>[0]>[0]) =>
    new CollectionService(core.store, core.apps, core.now);

  collection
    .command("add <app> <name>")
    .description("declare a collection; --id names the fields that form its immutable _id")
    .requiredOption(
      "--id <fields>",
      "ID fields, comma-separated (one: _id is its string; several: an object)",
      fields,
    )
    .action(
      run(async (core, out, [app, name], opts) => {
        const added = await service(core).add(app as string, { name, idFields: opts.id });
        out.result({ name: added.name, idFields: added.idFields, createdAt: added.createdAt }, () => [
          `collection ${added.name} added; _id = ${added.idFields.length === 1 ? added.idFields[0] : `{ ${added.idFields.join(", ")} }`}`,
        ]);
      }),
    );

  collection
    .command("list <app>")
    .description("list an app's collections")
    .action(
      run(async (core, out, [app]) => {
        const list = await service(core).list(app as string);
        out.result(
          { collections: list.map(({ name, idFields, createdAt }) => ({ name, idFields, createdAt })) },
          () =>
            list.length === 0
              ? ["no collections"]
              : table([
                  ["NAME", "ID FIELDS", "CREATED"],
                  ...list.map((c) => [c.name, c.idFields.join(","), formatTime(c.createdAt)]),
                ]),
        );
      }),
    );

  collection
    .command("remove <app> <name>")
    .description("remove a collection and every document stored in it")
    .action(
      run(async (core, out, [app, name]) => {
        await service(core).remove(app as string, name as string);
        out.result({ removed: name }, () => [`collection ${name} removed with its documents`]);
      }),
    );
}
