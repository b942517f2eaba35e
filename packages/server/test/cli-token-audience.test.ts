// `meshauth token-audience`: an admin sets up the services an app's users may get bearer
// JWTs for, from the command line against the hub's storage.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { cli } from "./helpers/cli.js";
import { cleanup, tempDir } from "./helpers/engines.js";

after(cleanup);

test("token-audience add, list, replace and remove; bad settings are refused with a clear message", async () => {
  const env = { MESHAUTH_DATA_DIR: tempDir() };
  const created = await cli(["app", "create", "shop", "--json"], env);
  assert.equal(created.code, 0, created.stderr);
  const audience = "https://abc.powersync.example.com";

  const added = await cli(
    ["token-audience", "add", "shop", audience, "--ttl", "600", "--claims", '{"tenant_id":"acme"}', "--json"],
    env,
  );
  assert.equal(added.code, 0, added.stderr);
  const saved = JSON.parse(added.stdout);
  assert.equal(saved.audience, audience);
  assert.equal(saved.ttlSeconds, 600);
  assert.equal(saved.role, "authenticated");
  assert.deepEqual(saved.claims, { tenant_id: "acme" });

  const replaced = await cli(["token-audience", "add", "shop", audience, "--permissions-claim", "none"], env);
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.match(
    replaced.stdout,
    /token audience https:\/\/abc\.powersync\.example\.com: 5m tokens, role authenticated/,
  );
  const list = await cli(["token-audience", "list", "shop"], env);
  assert.match(list.stdout, /^AUDIENCE\s+TTL\s+ROLE\s+CLAIMS/m);
  assert.match(list.stdout, /https:\/\/abc\.powersync\.example\.com\s+5m\s+authenticated\s+app_id$/m);

  const tooLong = await cli(["token-audience", "add", "shop", "https://x.example.com", "--ttl", "3600"], env);
  assert.equal(tooLong.code, 1);
  assert.match(tooLong.stderr, /ttlSeconds: expected an integer from 30 to 900 seconds/);
  const reserved = await cli(
    ["token-audience", "add", "shop", "https://x.example.com", "--claims", '{"sub":"x"}'],
    env,
  );
  assert.equal(reserved.code, 1);
  assert.match(reserved.stderr, /claims\.sub: expected a claim the hub does not set itself/);

  assert.equal((await cli(["token-audience", "remove", "shop", audience], env)).code, 0);
  assert.match((await cli(["token-audience", "list", "shop"], env)).stdout, /no token audiences/);
  const gone = await cli(["token-audience", "remove", "shop", audience], env);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /has no token audience/);
});
