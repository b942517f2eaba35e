import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { NO_ACCESS } from "@meshauth/core";
import { loadConfig } from "../src/config/config.js";
import { openHubCore } from "../src/hub.js";
import { cli, cliArgs, root } from "./helpers/cli.js";
import { cleanup, tempDir } from "./helpers/engines.js";
import { freePort } from "./helpers/hub.js";

after(cleanup);

function waitForOutput(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${seen}`)),
      30_000,
    );
    child.stdout?.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve(seen);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${pattern}:\n${seen}`));
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.on("exit", (code) => resolve(code));
    child.kill("SIGTERM");
  });
}

describe("meshauth CLI", () => {
  test("start: zero configuration, prints the admin token and demo app once, a restart reuses them", async () => {
    const dir = tempDir();
    const port = await freePort();
    const env = { MESHAUTH_DATA_DIR: dir, PORT: String(port) };
    const child = spawn(process.execPath, [...cliArgs, "start"], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    const banner = await waitForOutput(child, /app "demo" created[\s\S]*playground token/);
    const adminToken = /admin token \(shown once[^)]*\): (\S+)/.exec(banner)?.[1];
    assert.ok(adminToken, banner);
    assert.equal(readFileSync(join(dir, "admin-token"), "utf8").trim(), adminToken);
    assert.equal(statSync(join(dir, "admin-token")).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "master.key")).mode & 0o777, 0o600);
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    assert.deepEqual(await res.json(), { status: "ok" });
    const apps = await (
      await fetch(`http://127.0.0.1:${port}/admin/apps`, {
        headers: { authorization: `Bearer ${adminToken}` },
      })
    ).json();
    assert.equal(apps.apps[0].name, "demo");
    assert.equal(await stop(child), 0, "SIGTERM shuts down cleanly");

    const again = spawn(process.execPath, [...cliArgs, "start"], {
      cwd: root,
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    const banner2 = await waitForOutput(again, /app "demo": app ID/);
    assert.ok(!banner2.includes(adminToken), "the admin token is printed only once");
    assert.match(banner2, /admin token: in /);
    assert.ok(banner2.includes(apps.apps[0].id));
    assert.equal(await stop(again), 0);
  });

  test("app and keys commands, human and --json output", async () => {
    const env = { MESHAUTH_DATA_DIR: tempDir() };
    const created = await cli(
      [
        "app",
        "create",
        "shop",
        "--json",
        "--access-token-ttl",
        "600",
        "--cors-origin",
        "https://shop.example",
      ],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const { app, playgroundToken } = JSON.parse(created.stdout);
    assert.equal(app.name, "shop");
    assert.equal(app.accessTokenTtl, 600);
    assert.deepEqual(app.corsOrigins, ["https://shop.example"]);
    assert.match(playgroundToken, /^mp_/);

    const list = await cli(["app", "list"], env);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^ID\s+NAME/m);
    assert.match(list.stdout, new RegExp(`${app.id}\\s+shop`));

    const show = await cli(["app", "show", "shop"], env);
    assert.match(show.stdout, /access tokens:\s+10m/);

    const updated = await cli(["app", "update", "shop", "--providers", "otp,client", "--json"], env);
    assert.deepEqual(JSON.parse(updated.stdout).providers, ["otp", "client"]);

    const secret = JSON.parse(
      (await cli(["app", "add-secret", "shop", "--label", "api", "--json"], env)).stdout,
    );
    assert.ok(secret.clientSecret.startsWith(secret.secret.id));
    assert.equal((await cli(["app", "revoke-secret", "shop", secret.secret.id], env)).code, 0);

    const rotated = JSON.parse((await cli(["app", "rotate-playground-token", app.id, "--json"], env)).stdout);
    assert.notEqual(rotated.playgroundToken, playgroundToken);

    const keys = JSON.parse((await cli(["keys", "list", "--json"], env)).stdout).keys;
    assert.equal(keys.length, 1);
    const rotation = await cli(["keys", "rotate"], env);
    assert.match(rotation.stdout, /published now, signs from/);
    const keysNext = JSON.parse((await cli(["keys", "list", "--json"], env)).stdout).keys;
    assert.deepEqual(keysNext.map((k: { status: string }) => k.status).sort(), ["active", "next"]);
    const urgent = await cli(["keys", "rotate", "--immediate"], env);
    assert.match(urgent.stdout, /new active key .*, signing now/);
    const keysAfter = JSON.parse((await cli(["keys", "list", "--json"], env)).stdout).keys;
    assert.deepEqual(keysAfter.map((k: { status: string }) => k.status).sort(), [
      "active",
      "retiring",
      "retiring",
    ]);

    const refused = await cli(["app", "delete", "shop"], env);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /--yes/);
    assert.equal((await cli(["app", "delete", "shop", "--yes"], env)).code, 0);
    assert.match((await cli(["app", "list"], env)).stdout, /no apps/);
  });

  test("failures exit non-zero with a one-line reason", async () => {
    const env = { MESHAUTH_DATA_DIR: tempDir() };
    const cases: [string[], Record<string, string>, RegExp][] = [
      [["app", "show", "ghost"], {}, /no app with ID or name "ghost"/],
      [["app", "create", "bad name"], {}, /name: expected/],
      [["app", "create", "x", "--access-token-ttl", "ten"], {}, /whole number/],
      [["app", "create", "y", "--email", "{oops"], {}, /--email is not valid JSON/],
      [["keys", "list"], { PORT: "nope" }, /PORT: expected an integer/],
      [["keys", "list"], { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" }, /cannot open PostgreSQL/],
      [["app", "frobnicate"], {}, /unknown command/],
    ];
    for (const [args, extra, pattern] of cases) {
      const r = await cli(args, { ...env, ...extra });
      assert.notEqual(r.code, 0, args.join(" "));
      assert.match(r.stderr, pattern, args.join(" "));
    }
    const dup1 = await cli(["app", "create", "twice"], env);
    assert.equal(dup1.code, 0);
    const dup2 = await cli(["app", "create", "twice", "--json"], env);
    assert.equal(dup2.code, 1);
    assert.equal(dup2.stderr.trim().split("\n").length, 1);
    assert.equal(JSON.parse(dup2.stdout).error, "conflict");
  });

  test("user commands: list users and sessions, end sessions, disable and enable", async () => {
    const dir = tempDir();
    const env = { MESHAUTH_DATA_DIR: dir };
    const core = await openHubCore({
      ...loadConfig({ MESHAUTH_DATA_DIR: dir, LOG_LEVEL: "silent" }, dir),
      demoApp: false,
    });
    const { app } = await core.apps.create({ name: "crm" });
    const login = () =>
      core.tokens.login({
        app,
        userId: "ada@example.com",
        provider: "otp",
        permissions: NO_ACCESS,
        jkt: "A".repeat(43),
        profile: { email: "ada@example.com" },
      });
    await login();
    await login();
    await core.close();

    assert.match((await cli(["user", "list", "crm"], env)).stdout, /ada@example\.com\s+ada@example\.com/);
    const sessions = JSON.parse(
      (await cli(["user", "sessions", "crm", "ada@example.com", "--json"], env)).stdout,
    ).sessions;
    assert.equal(sessions.length, 2);
    assert.equal((await cli(["session", "revoke", "crm", sessions[0].id], env)).code, 0);
    const afterOne = JSON.parse(
      (await cli(["user", "sessions", "crm", "ada@example.com", "--json"], env)).stdout,
    ).sessions;
    assert.deepEqual(afterOne.map((s: { active: boolean }) => s.active).sort(), [false, true]);
    assert.match(
      (await cli(["user", "revoke-sessions", "crm", "ada@example.com"], env)).stdout,
      /ended 1 session/,
    );
    assert.match((await cli(["user", "disable", "crm", "ada@example.com"], env)).stdout, /disabled user/);
    assert.match((await cli(["user", "list", "crm"], env)).stdout, /disabled/);
    assert.match((await cli(["user", "enable", "crm", "ada@example.com"], env)).stdout, /enabled user/);
    const missing = await cli(["user", "sessions", "crm", "nobody"], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no user "nobody"/);
  });

  test("--help for every command", async () => {
    for (const args of [
      ["--help"],
      ["app", "--help"],
      ["app", "create", "--help"],
      ["keys", "rotate", "--help"],
      ["start", "--help"],
    ]) {
      const r = await cli(args, {});
      assert.equal(r.code, 0, args.join(" "));
      assert.match(r.stdout, /Usage: meshauth/);
    }
  });
});
