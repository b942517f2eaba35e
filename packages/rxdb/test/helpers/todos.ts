// A real RxDB database (memory storage behind the ajv schema validator, dev-mode on) with a
// `todos` collection whose composite primary key is the hub collection's ID fields.
import { randomUUID } from "node:crypto";
import {
  addRxPlugin,
  createRxDatabase,
  type RxCollection,
  type RxConflictHandler,
  type RxDatabase,
  type RxJsonSchema,
} from "rxdb";
import { disableWarnings, RxDBDevModePlugin } from "rxdb/plugins/dev-mode";
import { getRxStorageMemory } from "rxdb/plugins/storage-memory";
import { wrappedValidateAjvStorage } from "rxdb/plugins/validate-ajv";

disableWarnings();
addRxPlugin(RxDBDevModePlugin);

export interface Todo {
  key: string;
  owner: string;
  item: string;
  title: string;
  tags: string[];
}

export const todoSchema: RxJsonSchema<Todo> = {
  version: 0,
  primaryKey: { key: "key", fields: ["owner", "item"], separator: "|" },
  type: "object",
  properties: {
    key: { type: "string", maxLength: 200 },
    owner: { type: "string", maxLength: 100 },
    item: { type: "string", maxLength: 100 },
    title: { type: "string" },
    tags: { type: "array", items: { type: "string" } },
  },
  required: ["key", "owner", "item", "title", "tags"],
};

/** Merges both sides' tags and keeps the longer title: nothing either device wrote is lost. */
export const mergeTags: RxConflictHandler<Todo> = {
  isEqual: (a, b) => JSON.stringify(normal(a)) === JSON.stringify(normal(b)),
  resolve: async ({ newDocumentState, realMasterState }) => ({
    ...realMasterState,
    title:
      newDocumentState.title.length > realMasterState.title.length
        ? newDocumentState.title
        : realMasterState.title,
    tags: [...new Set([...realMasterState.tags, ...newDocumentState.tags])].sort(),
  }),
};

function normal(d: Todo & { _deleted: boolean }) {
  return { d: d._deleted, o: d.owner, i: d.item, t: d.title, g: d.tags };
}

export type TodoDb = RxDatabase<{ todos: RxCollection<Todo> }>;

export async function todosDb(options: { conflictHandler?: RxConflictHandler<Todo> } = {}): Promise<TodoDb> {
  const db: TodoDb = await createRxDatabase({
    name: `todos${randomUUID().replaceAll("-", "")}`,
    storage: wrappedValidateAjvStorage({ storage: getRxStorageMemory() }),
    multiInstance: false,
  });
  await db.addCollections({
    todos: {
      schema: todoSchema,
      ...(options.conflictHandler ? { conflictHandler: options.conflictHandler } : {}),
    },
  });
  return db;
}

export function todo(owner: string, item: string, title = `${owner}'s ${item}`, tags: string[] = []): Todo {
  return { key: `${owner}|${item}`, owner, item, title, tags };
}

/** The titles of the todos a database shows, by key, sorted. */
export async function visible(db: TodoDb): Promise<string[]> {
  const docs = await db.todos.find().exec();
  return docs.map((d) => d.key).sort();
}

/** Polls `check` until it returns true (tests wait for replication this way). */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeout = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
