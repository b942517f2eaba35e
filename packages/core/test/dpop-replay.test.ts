import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryReplayCache } from "@meshauth/core";

test("first use is true, a second use before expiry is false", async () => {
  let now = 1000;
  const cache = new MemoryReplayCache({ now: () => now });
  assert.equal(await cache.use("k:1", 1300), true);
  assert.equal(await cache.use("k:1", 1300), false);
  now = 1300; // still within the lifetime (inclusive)
  assert.equal(await cache.use("k:1", 1300), false);
  assert.equal(await cache.use("k:2", 1300), true);
});

test("concurrent uses of one id: exactly one wins", async () => {
  const cache = new MemoryReplayCache({ now: () => 0 });
  const results = await Promise.all(Array.from({ length: 20 }, () => cache.use("same", 100)));
  assert.equal(results.filter(Boolean).length, 1);
});

test("expired entries are purged", async () => {
  let now = 1000;
  const cache = new MemoryReplayCache({ now: () => now });
  for (let i = 0; i < 10; i++) await cache.use(`old:${i}`, 1100);
  assert.equal(cache.size, 10);
  now = 1101;
  await cache.use("new", 1400);
  assert.equal(cache.size, 1);
  assert.equal(await cache.use("old:3", 1400), true, "an expired entry no longer blocks");
});

test("size stays bounded, evicting the oldest entry", async () => {
  const cache = new MemoryReplayCache({ maxEntries: 3, now: () => 0 });
  for (const id of ["a", "b", "c", "d"]) assert.equal(await cache.use(id, 100), true);
  assert.equal(cache.size, 3);
  assert.equal(await cache.use("d", 100), false);
  assert.equal(await cache.use("a", 100), true, "the oldest was evicted");
});

test("expired entries are dropped before anything live is evicted", async () => {
  let now = 0;
  const cache = new MemoryReplayCache({ maxEntries: 3, now: () => now });
  await cache.use("long", 1000);
  await cache.use("short1", 10);
  await cache.use("short2", 10);
  now = 11;
  await cache.use("new", 1000);
  assert.equal(await cache.use("long", 1000), false, "the live entry survived");
});

test("maxEntries must be positive", () => {
  assert.throws(() => new MemoryReplayCache({ maxEntries: 0 }), RangeError);
});
