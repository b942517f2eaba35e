// Shared todos in React: RxDB keeps them in IndexedDB (Dexie), replicateMeshauth syncs them
// through the hub with the logged-in person's rules. Each todo's _id is {owner, item}: the
// list it belongs to ("alice", "shared", "news", ...) and its own ID. The hub sends a window
// only the lists its user may read and refuses writes to lists they may not write; the page
// shows those refusals and rolls the change back.
import { createClient, type TokenResponse } from "@meshauth/client";
import { MeshauthProvider, useCurrentUser } from "@meshauth/react";
import { type MeshauthSyncStatus, type RefusedWrite, replicateMeshauth } from "@meshauth/rxdb";
import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { createRxDatabase, type RxCollection, type RxJsonSchema } from "rxdb";
import { getRxStorageDexie } from "rxdb/plugins/storage-dexie";

interface Todo {
  key: string;
  owner: string;
  item: string;
  title: string;
  done: boolean;
}

const schema: RxJsonSchema<Todo> = {
  version: 0,
  // The hub's collection: `meshauth collection add demo todos --id owner,item`.
  primaryKey: { key: "key", fields: ["owner", "item"], separator: "|" },
  type: "object",
  properties: {
    key: { type: "string", maxLength: 200 },
    owner: { type: "string", maxLength: 100 },
    item: { type: "string", maxLength: 100 },
    title: { type: "string", maxLength: 500 },
    done: { type: "boolean" },
  },
  required: ["key", "owner", "item", "title", "done"],
};

const { hub, appId } = window.MESHAUTH;
const client = createClient({
  hub,
  appId,
  // The app's own login: ask for a name in the SDK's dialog, let the backend vouch for it.
  async fetchTokens({ jkt, prompt }) {
    const { name } = await prompt({
      title: "Log in to the todos",
      fields: { name: { type: "text", label: "Your name (alice, bob, editor, ...)" } },
      submitLabel: "Log in",
    });
    const res = await fetch("/todos/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: name?.trim().toLowerCase(), jkt }),
    });
    const answer = (await res.json()) as TokenResponse & { error_description?: string };
    if (!res.ok) throw new Error(answer.error_description ?? `login failed (${res.status})`);
    return answer;
  },
});

// One database per browser profile; a second window of the same profile shares it.
const db = await createRxDatabase<{ todos: RxCollection<Todo> }>({
  name: "meshauth-todos",
  storage: getRxStorageDexie(),
});
await db.addCollections({ todos: { schema } });
const sync = replicateMeshauth({ client, collection: db.todos, name: "todos" });

function useTodos(): Todo[] {
  const [todos, setTodos] = useState<Todo[]>([]);
  useEffect(() => {
    const sub = db.todos
      .find({ sort: [{ owner: "asc" }, { item: "asc" }] })
      .$.subscribe((docs) => setTodos(docs.map((d) => d.toJSON() as Todo)));
    return () => sub.unsubscribe();
  }, []);
  return todos;
}

function useSync(): { status: MeshauthSyncStatus; refused: RefusedWrite<Todo>[] } {
  const [status, setStatus] = useState<MeshauthSyncStatus>(sync.status);
  const [refused, setRefused] = useState<RefusedWrite<Todo>[]>([]);
  useEffect(() => {
    const subs = [
      sync.status$.subscribe(setStatus),
      sync.refused$.subscribe((r) => setRefused((list) => [r, ...list].slice(0, 5))),
    ];
    return () => {
      for (const s of subs) s.unsubscribe();
    };
  }, []);
  return { status, refused };
}

function TodoList({ owner, todos }: { owner: string; todos: Todo[] }) {
  const [title, setTitle] = useState("");
  const add = () => {
    if (!title.trim()) return;
    const item = crypto.randomUUID().slice(0, 8);
    void db.todos.insert({ key: `${owner}|${item}`, owner, item, title: title.trim(), done: false });
    setTitle("");
  };
  return (
    <section aria-label={`list ${owner}`}>
      <h2>{owner}</h2>
      <ul>
        {todos.map((t) => (
          <li key={t.key} className={t.done ? "done" : ""}>
            <label>
              <input
                type="checkbox"
                checked={t.done}
                onChange={() =>
                  void db.todos
                    .findOne(t.key)
                    .exec()
                    .then((d) => d?.incrementalPatch({ done: !t.done }))
                }
              />{" "}
              <span>{t.title}</span>
            </label>{" "}
            <button
              type="button"
              aria-label={`delete ${t.title}`}
              onClick={() =>
                void db.todos
                  .findOne(t.key)
                  .exec()
                  .then((d) => d?.remove())
              }
            >
              ×
            </button>
          </li>
        ))}
      </ul>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          add();
        }}
      >
        <input aria-label={`new todo in ${owner}`} value={title} onChange={(e) => setTitle(e.target.value)} />
        <button type="submit">Add</button>
      </form>
    </section>
  );
}

function App() {
  const user = useCurrentUser();
  const todos = useTodos();
  const { status, refused } = useSync();
  if (user.status === "loading") return <main aria-busy="true" />;
  const lists = [
    ...new Set([...(user.isLoggedIn ? [user.userId] : []), "shared", "news", ...todos.map((t) => t.owner)]),
  ];
  return (
    <main>
      <p>
        {user.isLoggedIn ? `Logged in as ${user.userId}` : "Logged out"}{" "}
        <button
          type="button"
          onClick={() => void (user.isLoggedIn ? client.logout() : client.login().catch(() => {}))}
        >
          {user.isLoggedIn ? "Log out" : "Log in"}
        </button>
      </p>
      <p className="status" role="status">
        sync: {status}
      </p>
      {refused.map((r) => (
        <p key={`${r.primary}${r.message}`} role="alert">
          Not saved ({r.code}): {r.document.title} in {r.document.owner}
        </p>
      ))}
      {lists.map((owner) => (
        <TodoList key={owner} owner={owner} todos={todos.filter((t) => t.owner === owner)} />
      ))}
    </main>
  );
}

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <MeshauthProvider client={client}>
      <App />
    </MeshauthProvider>,
  );
}
