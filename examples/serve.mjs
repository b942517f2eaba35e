#!/usr/bin/env node
// Serves the examples against a running hub:
//   http://localhost:5173/        plain TypeScript with the SDK's default dialog (web/)
//   http://localhost:5173/react/  React with a custom dialog from @meshauth/react (react/)
// The pages are bundled with esbuild on every load (edit, then reload), with the
// workspace packages taken from their sources. /config.js tells the pages the hub's URL
// and the app's ID.
//
// Environment:
//   MESHAUTH_HUB     the hub's URL; default http://127.0.0.1:4000 (what `npm start` listens on)
//   MESHAUTH_APP_ID  the app's ID; default: the "demo" app that `npm start` created,
//                    looked up with the CLI in the same data folder (MESHAUTH_DATA_DIR, .meshauth)
//   EXAMPLE_PORT     this server's port; default 5173
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { context } from "esbuild";
import { todosLogin } from "./todos/backend.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const here = fileURLToPath(new URL(".", import.meta.url));
const port = Number(process.env.EXAMPLE_PORT || 5173);
const hubSetting = (process.env.MESHAUTH_HUB || "http://127.0.0.1:4000").replace(/\/+$/, "");

// ---- the hub and the app ------------------------------------------------------------

/** The hub's issuer from its discovery document, or an explanation of why not. */
async function findHub() {
  try {
    const res = await fetch(`${hubSetting}/.well-known/oauth-authorization-server`, {
      signal: AbortSignal.timeout(3000),
    });
    if (!res.ok)
      return { error: `${hubSetting} answered ${res.status} to its discovery URL; is it a meshauth hub?` };
    const { issuer } = await res.json();
    return { url: typeof issuer === "string" ? issuer.replace(/\/+$/, "") : hubSetting };
  } catch (e) {
    return {
      error: `no hub answers at ${hubSetting} (${e.cause?.code ?? e.message}); start it with \`npm start\``,
    };
  }
}

/** The app's ID: MESHAUTH_APP_ID, or the demo app read from the hub's data folder by the CLI. */
function findAppId() {
  if (process.env.MESHAUTH_APP_ID) return { id: process.env.MESHAUTH_APP_ID };
  const dataDir = resolve(root, process.env.MESHAUTH_DATA_DIR || ".meshauth");
  const ownDatabase = !process.env.DATABASE_URL && !process.env.MESHAUTH_CONFIG;
  // The CLI would create an empty data folder; wait until `npm start` has made one.
  if (ownDatabase && !existsSync(join(dataDir, "meshauth.sqlite"))) {
    return { error: `no hub data in ${dataDir} yet: run \`npm start\` first, or set MESHAUTH_APP_ID` };
  }
  const built = join(root, "packages/server/dist/cli.js");
  const cli = existsSync(built)
    ? [built]
    : ["--conditions=development", "--import", "tsx", join(root, "packages/server/src/cli.ts")];
  const run = spawnSync(process.execPath, [...cli, "--json", "app", "show", "demo"], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, LOG_LEVEL: "silent" },
  });
  try {
    const answer = JSON.parse(run.stdout);
    if (typeof answer.id === "string") return { id: answer.id };
    return {
      error: `the CLI found no demo app (${answer.error_description ?? answer.error}); create an app and set MESHAUTH_APP_ID`,
    };
  } catch {
    // Last resort: what `npm start` wrote when it created the demo app.
    const file = join(dataDir, "demo-app.json");
    if (existsSync(file)) return { id: JSON.parse(readFileSync(file, "utf8")).appId };
    return { error: `\`meshauth app show demo\` failed: ${(run.stderr || run.stdout).trim()}` };
  }
}

let hub = await findHub();
let app = findAppId();

/** Looks again for what was missing (the hub may have been started after this server). */
async function refreshConfig() {
  if (hub.error) hub = await findHub();
  if (app.error) app = findAppId();
}

function configScript() {
  const problems = [hub.error, app.error].filter(Boolean);
  const config = { hub: hub.url ?? hubSetting, appId: app.id ?? "" };
  let js = `window.MESHAUTH = ${JSON.stringify(config)};\n`;
  if (problems.length > 0) {
    // Shown on the page too: a console is easy to miss.
    js += `console.error(${JSON.stringify(problems.join("\n"))});
addEventListener("DOMContentLoaded", () => {
  const p = document.createElement("pre");
  p.setAttribute("role", "alert");
  p.style.cssText = "background:#fee;border:2px solid #c00;padding:8px;white-space:pre-wrap";
  p.textContent = ${JSON.stringify(`examples/serve.mjs: ${problems.join("\n")}\nFix it and reload.`)};
  document.body.prepend(p);
});
`;
  }
  return js;
}

// ---- bundles --------------------------------------------------------------------------

async function bundler(entry) {
  return context({
    entryPoints: [join(here, entry)],
    absWorkingDir: root,
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["development", "browser"],
    jsx: "automatic",
    sourcemap: "inline",
    logLevel: "silent",
    define: { "process.env.NODE_ENV": '"development"' },
  });
}

const bundles = {
  "/main.js": await bundler("web/main.ts"),
  "/react/main.js": await bundler("react/main.tsx"),
  "/todos/main.js": await bundler("todos/main.tsx"),
};

async function script(path) {
  try {
    const result = await bundles[path].rebuild();
    return result.outputFiles[0].text;
  } catch (e) {
    const message = (e.errors ?? [])
      .map((m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ""}${m.text}`)
      .join("\n");
    console.error(`bundling ${path} failed:\n${message || e.message}`);
    return `document.body.prepend(Object.assign(document.createElement("pre"), { textContent: ${JSON.stringify(`bundling failed:\n${message || e.message}`)} }));`;
  }
}

// ---- the server -----------------------------------------------------------------------

const pages = {
  "/": "web/index.html",
  "/index.html": "web/index.html",
  "/react/": "react/index.html",
  "/todos/": "todos/index.html",
};
const types = { html: "text/html; charset=utf-8", js: "text/javascript; charset=utf-8" };

async function handle(req, res) {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  const send = (status, type, body, headers = {}) => {
    res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers });
    res.end(req.method === "HEAD" ? undefined : body);
  };
  if (path === "/todos/login" && req.method === "POST") {
    await refreshConfig();
    return todosLogin(req, res, { hub: hub.url ?? hubSetting, appId: app.id ?? "" });
  }
  if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain", "method not allowed");
  if (path === "/react" || path === "/react/index.html")
    return send(308, "text/plain", "", { location: "/react/" });
  if (path === "/todos" || path === "/todos/index.html")
    return send(308, "text/plain", "", { location: "/todos/" });
  if (pages[path]) return send(200, types.html, readFileSync(join(here, pages[path]), "utf8"));
  if (path === "/config.js") {
    await refreshConfig();
    return send(200, types.js, configScript());
  }
  if (bundles[path]) return send(200, types.js, await script(path));
  if (path === "/favicon.ico") return send(204, "image/x-icon", "");
  return send(404, "text/plain; charset=utf-8", "not found");
}

const servers = [];
for (const host of ["127.0.0.1", "::1"]) {
  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      console.error(e);
      if (!res.headersSent) res.writeHead(500).end(String(e));
    });
  });
  const ok = await new Promise((resolve, reject) => {
    server.once("error", (e) => {
      // No IPv6 loopback here: 127.0.0.1 is enough.
      if (host === "::1" && (e.code === "EADDRNOTAVAIL" || e.code === "EAFNOSUPPORT")) resolve(false);
      else reject(e);
    });
    server.listen(port, host, () => resolve(true));
  }).catch((e) => {
    console.error(
      e.code === "EADDRINUSE"
        ? `port ${port} is in use; stop what uses it or set EXAMPLE_PORT`
        : `cannot listen on ${host}:${port}: ${e.message}`,
    );
    process.exit(1);
  });
  if (ok) servers.push(server);
}

const base = `http://localhost:${port}`;
console.log(`meshauth examples on ${base}
  ${base}/         plain TypeScript, the SDK's default login dialog
  ${base}/react/   React, a custom dialog from @meshauth/react's hooks
  ${base}/todos/   React + RxDB: shared todos synced through the hub (two windows, two names)
  hub:    ${hub.url ?? `${hubSetting}  (not reachable yet: ${hub.error})`}
  app ID: ${app.id ?? `(unknown yet: ${app.error})`}
Log in with any email address; in development mode the hub shows the code in its log
and at ${hub.url ?? hubSetting}/dev/mailbox. Ctrl-C stops this server.`);

function stop() {
  for (const server of servers) server.close();
  for (const ctx of Object.values(bundles)) void ctx.dispose();
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
