// Shared pieces for tests that run code in a real Chromium: bundle a TypeScript entry
// for the browser, serve it from a throwaway local HTTP server, launch the browser,
// and collect what the page logs as errors. Tests skip (with a reason) when Chromium
// is not installed, except in CI, where a missing browser is an error.
//
//   const skip = browserSkipReason();
//   describe("…", { skip }, () => { … });
//   const js = await bundle(new URL("./fixtures/page.ts", import.meta.url).pathname);
//   const site = await startStaticServer({ "/": html, "/page.js": js });
//   const browser = await launchBrowser();
//
// Pages that talk to a real hub: `browserSuite` sets up the site, the hub and Chromium
// for a file or a `describe`, and opens watched pages.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join } from "node:path";
import { after, afterEach, before } from "node:test";
import { fileURLToPath } from "node:url";
import { type BuildFailure, build } from "esbuild";
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Locator,
  type Page,
} from "playwright-core";
import type { SdkTestHub } from "../helpers/hub.js";

/** The repository's root directory. */
export const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));

/** `<repo root>/test-artifacts`: screenshots and other files worth looking at after a run (git-ignored). */
export const artifactsDir = join(repoRoot, "test-artifacts");

/** `artifactsDir/<name>`, creating the directory if needed. */
export function artifactPath(name: string): string {
  mkdirSync(artifactsDir, { recursive: true });
  return join(artifactsDir, name);
}

export interface BundleOptions {
  /** Compile JSX with React's automatic runtime (`react/jsx-runtime`). */
  jsx?: boolean;
  /** Extra esbuild `define`s; `process.env.NODE_ENV` is `"development"` unless given here. */
  define?: Record<string, string>;
}

/**
 * Bundles a TS/TSX entry file into one ES module for the browser and returns its text
 * (source map inline). Workspace packages resolve to their sources through the
 * "development" export condition. Importing a Node built-in (`node:*`) fails the build.
 */
export async function bundle(entry: string, options: BundleOptions = {}): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: repoRoot,
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["development", "browser"],
    sourcemap: "inline",
    minify: false,
    logLevel: "silent",
    ...(options.jsx ? { jsx: "automatic" as const } : {}),
    define: { "process.env.NODE_ENV": '"development"', ...options.define },
  }).catch((e: unknown) => {
    // esbuild's own message leaves out the notes (such as "built into node").
    const errors = (e as Partial<BuildFailure>).errors;
    if (!errors?.length) throw e;
    const lines = errors.map((m) => {
      const at = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : "";
      return [`${at}${m.text}`, ...m.notes.map((n) => `  ${n.text}`)].join("\n");
    });
    throw new Error(`bundling ${entry} for the browser failed:\n${lines.join("\n")}`);
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error(`esbuild produced no output for ${entry}`);
  return file.text;
}

/** What a route serves: a body (content type from the path's extension), a body with its type, or a function called per request. */
export type Route = string | { body: string; type: string } | (() => Promise<string>);

export interface StaticServer {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  url: string;
  close(): Promise<void>;
}

const typesByExtension: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".txt": "text/plain; charset=utf-8",
};

function typeFor(path: string): string {
  if (path.endsWith("/")) return typesByExtension[".html"]!;
  return typesByExtension[extname(path)] ?? "text/plain; charset=utf-8";
}

/**
 * Serves `routes` (keyed by path, query strings ignored; "/" and names without an
 * extension are HTML) on 127.0.0.1 at a free port. Anything else is a 404.
 */
export async function startStaticServer(routes: Record<string, Route>): Promise<StaticServer> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const route = routes[path];
    if (route === undefined && path === "/favicon.ico") {
      // Keeps browsers' automatic favicon request out of the page's console errors.
      res.writeHead(204).end();
      return;
    }
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (route === undefined || (req.method !== "GET" && req.method !== "HEAD")) {
      send(404, "text/plain; charset=utf-8", "not found");
      return;
    }
    const defaultType = extname(path) === "" ? typesByExtension[".html"]! : typeFor(path);
    if (typeof route === "string") send(200, defaultType, route);
    else if (typeof route === "function") {
      route().then(
        (body) => send(200, defaultType, body),
        (e: unknown) => send(500, "text/plain; charset=utf-8", String(e)),
      );
    } else send(200, route.type, route.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** The Chromium binary: `$CHROMIUM_PATH`, or the Debian package's `/usr/bin/chromium`. */
export const chromiumPath = process.env["CHROMIUM_PATH"] || "/usr/bin/chromium";

const installHint = `Chromium not found at ${chromiumPath}; install it with \`apt-get install -y chromium\` (or run .ci/setup-browser), or set CHROMIUM_PATH`;

/**
 * Why browser tests cannot run here, or `undefined` when they can. Use as
 * `{ skip: browserSkipReason() }`. In CI (`$CI` set) it is always `undefined`, so a
 * missing browser makes `launchBrowser` fail instead of silently skipping.
 */
export function browserSkipReason(): string | undefined {
  if (process.env["CI"] || existsSync(chromiumPath)) return undefined;
  return installHint;
}

/** Launches headless Chromium; throws with install instructions if it is missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(chromiumPath)) throw new Error(installHint);
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-quic",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export interface PageWatch {
  /** Uncaught exceptions and `console.error` messages, oldest first. */
  readonly errors: string[];
  /** Fails listing the errors seen, leaving out those matching `ignore`. */
  assertNoErrors(ignore?: RegExp): void;
}

/**
 * Collects a page's uncaught exceptions and console errors. With `echo` (default: when
 * `$BROWSER_LOG` is set) they are also printed to stderr as they happen.
 */
export function watchPage(page: Page, options: { echo?: boolean } = {}): PageWatch {
  const echo = options.echo ?? Boolean(process.env["BROWSER_LOG"]);
  const errors: string[] = [];
  const record = (text: string) => {
    errors.push(text);
    if (echo) process.stderr.write(`[browser] ${text}\n`);
  };
  page.on("pageerror", (e) => record(`uncaught ${e.stack ?? String(e)}`));
  page.on("console", (message) => {
    if (message.type() === "error") {
      const { url, lineNumber } = message.location();
      record(`console.error ${message.text()}${url ? ` (${url}:${lineNumber})` : ""}`);
    }
  });
  return {
    errors,
    assertNoErrors(ignore) {
      const left = ignore ? errors.filter((e) => !ignore.test(e)) : errors;
      if (left.length > 0) throw new Error(`the page reported errors:\n${left.join("\n")}`);
    },
  };
}

/** Waits until `locator` shows `expected`; fails with what it does show. */
export async function shows(locator: Locator, expected: string | RegExp, timeout = 10_000): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const actual = (await locator.textContent({ timeout }).catch(() => null)) ?? "";
    if (typeof expected === "string" ? actual === expected : expected.test(actual)) return;
    if (Date.now() > deadline) assert.fail(`the page shows ${JSON.stringify(actual)}, expected ${expected}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface BrowserSuite {
  /** The hub (with its SMTP server) whose app admits the site's origin. */
  readonly t: SdkTestHub;
  /** A new browser profile (its own storage, locks and broadcast channels), closed after the test. */
  newContext(): Promise<BrowserContext>;
  /** Opens `path` on the site in a new page of `context` (default: a new context), its errors watched. */
  open(path: string, context?: BrowserContext): Promise<Page>;
}

/**
 * Registers node:test hooks (call it at the top of a file or in a `describe`) that
 * before the tests serve the routes `routes()` makes (bundling, say), start a hub whose
 * app lists the site's origin, and launch Chromium. After each test, the
 * contexts it made are closed and it fails on anything its pages reported as errors.
 * Does nothing where `browserSkipReason()` says browser tests cannot run.
 */
export function browserSuite(
  routes: () => Promise<Record<string, Route>>,
  options: { context?: BrowserContextOptions } = {},
): BrowserSuite {
  const skip = browserSkipReason();
  let browser: Browser | undefined;
  let site: StaticServer | undefined;
  let hub: SdkTestHub | undefined;
  const contexts: BrowserContext[] = [];
  const watches: PageWatch[] = [];

  before(async () => {
    if (skip) return;
    site = await startStaticServer(await routes());
    // Loaded only here, so that tests without a hub (dialog.test.ts) do not load the server.
    const { startSdkHub } = await import("../helpers/hub.js");
    // Not in development mode: the page's origin is admitted only because the app lists it.
    hub = await startSdkHub({ app: { corsOrigins: [site.url] } });
    browser = await launchBrowser();
  });
  afterEach(async () => {
    const seen = watches.splice(0);
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    // Answers like 400 (a wrong code) or 401 (a nonce challenge) are logged by Chromium
    // as failed resource loads; anything else the pages reported is a failure.
    for (const watch of seen) watch.assertNoErrors(/Failed to load resource/);
  });
  after(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close().catch(() => {})));
    await browser?.close();
    await hub?.close();
    await site?.close();
  });

  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("browserSuite: used before its before() hook ran");
    return value;
  };
  const newContext = async () => {
    const context = await started(browser).newContext(options.context);
    contexts.push(context);
    return context;
  };
  return {
    get t() {
      return started(hub);
    },
    newContext,
    async open(path, context) {
      const page = await (context ?? (await newContext())).newPage();
      watches.push(watchPage(page));
      await page.goto(`${started(site).url}${path}`);
      return page;
    },
  };
}
