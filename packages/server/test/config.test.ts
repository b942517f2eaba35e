import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ConfigError, loadConfig } from "../src/config/config.js";
import { cleanup, tempDir } from "./helpers/engines.js";

after(cleanup);

function configError(env: Record<string, string>, key: string, pattern: RegExp): void {
  assert.throws(
    () => loadConfig(env, "/tmp"),
    (e: unknown) => e instanceof ConfigError && e.key === key && pattern.test(e.message),
  );
}

describe("configuration", () => {
  test("zero configuration: port 4000 on loopback, SQLite in ./.meshauth", () => {
    const c = loadConfig({}, "/srv/app");
    assert.equal(c.port, 4000);
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.issuer, "http://127.0.0.1:4000");
    assert.equal(c.dataDir, "/srv/app/.meshauth");
    assert.deepEqual(c.database, { kind: "sqlite", path: "/srv/app/.meshauth/meshauth.sqlite" });
    assert.equal(c.signingAlg, "ES256");
    assert.equal(c.mode, "development");
    assert.equal(c.adminToken, undefined);
    assert.equal(c.masterKey, undefined);
  });

  test("values from the environment", () => {
    const c = loadConfig(
      {
        PORT: "8080",
        HOST: "0.0.0.0",
        MESHAUTH_ISSUER: "https://auth.example.com/",
        DATABASE_URL: "postgres://u@db:5432/mesh",
        MESHAUTH_MASTER_KEY: "a".repeat(64),
        MESHAUTH_SIGNING_ALG: "EdDSA",
        NODE_ENV: "production",
      },
      "/x",
    );
    assert.equal(c.port, 8080);
    assert.equal(c.issuer, "https://auth.example.com");
    assert.deepEqual(c.database, { kind: "postgres", url: "postgres://u@db:5432/mesh" });
    assert.equal(c.masterKey?.length, 32);
    assert.equal(c.signingAlg, "EdDSA");
    assert.equal(c.mode, "production");
  });

  test("a bad value names its key and what is expected", () => {
    configError({ PORT: "eighty" }, "PORT", /expected an integer/);
    configError({ PORT: "70000" }, "PORT", /from 0 to 65535/);
    configError({ MESHAUTH_ISSUER: "ftp://x" }, "MESHAUTH_ISSUER", /http/);
    configError({ MESHAUTH_ISSUER: "https://x/?a=1" }, "MESHAUTH_ISSUER", /query/);
    configError({ DATABASE_URL: "mysql://x" }, "DATABASE_URL", /postgres/);
    configError({ MESHAUTH_ADMIN_TOKEN: "short" }, "MESHAUTH_ADMIN_TOKEN", /32 characters/);
    configError({ MESHAUTH_MASTER_KEY: "abc" }, "MESHAUTH_MASTER_KEY", /32 bytes/);
    configError({ MESHAUTH_SIGNING_ALG: "HS256" }, "MESHAUTH_SIGNING_ALG", /ES256, EdDSA/);
    configError({ MESHAUTH_SMTP_URL: "mail.example.com" }, "MESHAUTH_SMTP_URL", /smtp:\/\//);
    configError({ MESHAUTH_BODY_LIMIT: "10" }, "MESHAUTH_BODY_LIMIT", /1024/);
    configError({ MESHAUTH_DEMO_APP: "maybe" }, "MESHAUTH_DEMO_APP", /true or false/);
  });

  test("a config file is read and the environment overrides it", () => {
    const dir = tempDir();
    const file = join(dir, "meshauth.json");
    writeFileSync(file, JSON.stringify({ PORT: 5000, HOST: "127.0.0.2", MESHAUTH_DEMO_APP: false }));
    const c = loadConfig({ MESHAUTH_CONFIG: file, PORT: "6000" }, dir);
    assert.equal(c.port, 6000);
    assert.equal(c.host, "127.0.0.2");
    assert.equal(c.demoApp, false);
  });

  test("a config file with an unknown key or bad JSON is refused", () => {
    const dir = tempDir();
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ PROT: 5000 }));
    configError({ MESHAUTH_CONFIG: file }, "PROT", /unknown key/);
    writeFileSync(file, "{ nope");
    configError({ MESHAUTH_CONFIG: file }, "MESHAUTH_CONFIG", /not valid JSON/);
    configError({ MESHAUTH_CONFIG: join(dir, "missing.json") }, "MESHAUTH_CONFIG", /cannot read/);
  });
});
