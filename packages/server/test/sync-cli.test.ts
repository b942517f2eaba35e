import assert from "node:assert/strict";
import { after, test } from "node:test";
import { cli } from "./helpers/cli.js";
import { cleanup, tempDir } from "./helpers/engines.js";

after(cleanup);

test("meshauth collection add/list/remove declares an app's synced collections", async () => {
  const env = { MESHAUTH_DATA_DIR: tempDir() };
  assert.equal((await cli(["app", "create", "todo"], env)).code, 0);
  const added = await cli(["collection", "add", "todo", "todos", "--id", "owner,list"], env);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /collection todos added; _id = \{ owner, list \}/);
  const again = await cli(["collection", "add", "todo", "todos", "--id", "id"], env);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /already has a collection todos/);
  const bad = await cli(["collection", "add", "todo", "Todos!", "--id", "id"], env);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /collection name/);
  const list = JSON.parse((await cli(["collection", "list", "todo", "--json"], env)).stdout);
  assert.deepEqual(
    list.collections.map((c: { name: string; idFields: string[] }) => [c.name, c.idFields]),
    [["todos", ["owner", "list"]]],
  );
  assert.equal((await cli(["collection", "remove", "todo", "todos"], env)).code, 0);
  assert.match((await cli(["collection", "list", "todo"], env)).stdout, /no collections/);
  assert.notEqual((await cli(["collection", "remove", "todo", "todos"], env)).code, 0);
});
