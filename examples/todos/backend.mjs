// The todo example's "app backend": what a real app's server does to log its users in to
// the hub (the custom-auth grant with the app's client secret), here believing any name
// typed into the page. It also gives each user rules of their own, so two people in two
// windows see and edit different things:
//   read:  their own list, "shared" and "news";   write: their own list and "shared";
//   the user named "editor" may also write "news".
// Setup at first use, through the CLI in the hub's data folder: the demo app's `todos`
// collection (`--id owner,item`) and a client secret kept in .meshauth/todos-example-secret.json.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dataDir = resolve(root, process.env.MESHAUTH_DATA_DIR || ".meshauth");
const secretFile = join(dataDir, "todos-example-secret.json");
const NAME = /^[a-z][a-z0-9]{0,31}$/;

function cli(args) {
  const built = join(root, "packages/server/dist/cli.js");
  const entry = existsSync(built)
    ? [built]
    : ["--conditions=development", "--import", "tsx", join(root, "packages/server/src/cli.ts")];
  const run = spawnSync(process.execPath, [...entry, "--json", ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, LOG_LEVEL: "silent" },
  });
  try {
    return JSON.parse(run.stdout);
  } catch {
    return { error: "cli_failed", error_description: (run.stderr || run.stdout).trim() };
  }
}

let setup;
/** Declares the collection and finds (or makes) the client secret, once per run. */
function ensureSetup(appId) {
  setup ??= (() => {
    const added = cli(["collection", "add", appId, "todos", "--id", "owner,item"]);
    if (added.error && !/exist/i.test(added.error_description ?? "")) {
      setup = undefined;
      throw new Error(`cannot declare the todos collection: ${added.error_description ?? added.error}`);
    }
    if (existsSync(secretFile)) {
      const saved = JSON.parse(readFileSync(secretFile, "utf8"));
      if (saved.appId === appId) return saved.clientSecret;
    }
    const made = cli(["app", "add-secret", appId, "--label", "todos example"]);
    if (!made.clientSecret) {
      setup = undefined;
      throw new Error(`cannot add a client secret: ${made.error_description ?? made.error}`);
    }
    writeFileSync(secretFile, JSON.stringify({ appId, clientSecret: made.clientSecret }), { mode: 0o600 });
    chmodSync(secretFile, 0o600);
    return made.clientSecret;
  })();
  return setup;
}

/** The rules this example gives a person (exported for the example's browser test). */
export function rulesFor(name) {
  const own = `_id.owner == '${name}'`;
  const write = [own, "_id.owner == 'shared'", ...(name === "editor" ? ["_id.owner == 'news'"] : [])];
  return {
    read: {
      everything: false,
      queriesByCollection: { todos: [own, "_id.owner == 'shared'", "_id.owner == 'news'"] },
    },
    write: { everything: false, queriesByCollection: { todos: write } },
  };
}

/**
 * POST /todos/login {name, jkt} -> the hub's token answer for that user and device key,
 * which the page's `fetchTokens` returns to the SDK unchanged.
 */
export async function todosLogin(req, res, { hub, appId }) {
  const send = (status, body) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  };
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 4096) return send(413, { error: "payload_too_large" });
  }
  let name;
  let jkt;
  try {
    ({ name, jkt } = JSON.parse(body));
  } catch {
    return send(400, { error: "invalid_request", error_description: "send {name, jkt}" });
  }
  if (typeof name !== "string" || !NAME.test(name)) {
    return send(400, {
      error: "invalid_request",
      error_description: "a name is a lowercase letter, then up to 31 letters or digits",
    });
  }
  let clientSecret;
  try {
    clientSecret = ensureSetup(appId);
  } catch (e) {
    return send(503, { error: "unavailable", error_description: e.message });
  }
  const answer = await fetch(`${hub}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: appId,
      client_secret: clientSecret,
      sub: name,
      name,
      dpop_jkt: String(jkt),
      permissions: JSON.stringify(rulesFor(name)),
    }),
  });
  return send(answer.status, await answer.json());
}
