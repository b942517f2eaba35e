import assert from "node:assert/strict";
import { test } from "node:test";
import { VERSION } from "@meshauth/core";

test("core resolves from sources", () => {
  assert.match(VERSION, /^\d+\.\d+\.\d+$/);
});
