import assert from "node:assert/strict";
import { test } from "node:test";
import { createNonceService } from "@meshauth/core";
import { base64url } from "jose";

const NOW = 1_800_000_000;
const SECRET = new Uint8Array(32).fill(1);

function service(now: () => number, secret = SECRET, lifetimeSeconds?: number) {
  return createNonceService({ secret, now, ...(lifetimeSeconds ? { lifetimeSeconds } : {}) });
}

test("a nonce is accepted by any instance with the same secret", async () => {
  const nonce = await service(() => NOW).issue();
  assert.match(nonce, /^[A-Za-z0-9_-]{76}$/);
  assert.equal(await service(() => NOW + 10).check(nonce), true);
});

test("nonces are unique", async () => {
  const nonces = service(() => NOW);
  assert.notEqual(await nonces.issue(), await nonces.issue());
});

test("a nonce expires after its lifetime", async () => {
  const nonce = await service(() => NOW).issue();
  assert.equal(await service(() => NOW + 300).check(nonce), true);
  assert.equal(await service(() => NOW + 301).check(nonce), false);
  assert.equal(await service(() => NOW + 61, SECRET, 60).check(nonce), false);
});

test("a nonce dated too far ahead is refused", async () => {
  const nonce = await service(() => NOW + 31).issue();
  assert.equal(await service(() => NOW).check(nonce), false);
  const slightlyAhead = await service(() => NOW + 30).issue();
  assert.equal(await service(() => NOW).check(slightlyAhead), true);
});

test("a nonce from another secret is refused", async () => {
  const nonce = await service(() => NOW, new Uint8Array(32).fill(2)).issue();
  assert.equal(await service(() => NOW).check(nonce), false);
});

test("a forged nonce is refused: any changed byte breaks the MAC", async () => {
  const nonces = service(() => NOW);
  const bytes = base64url.decode(await nonces.issue());
  for (const index of [0, 5, 8, 20, 30, bytes.length - 1]) {
    const forged = new Uint8Array(bytes);
    forged[index] = (forged[index] ?? 0) ^ 1;
    assert.equal(await nonces.check(base64url.encode(forged)), false, `byte ${index}`);
  }
  // Re-dating a nonce (to extend its life) without the secret.
  const redated = new Uint8Array(bytes);
  new DataView(redated.buffer).setBigUint64(1, BigInt(NOW + 1000));
  assert.equal(await service(() => NOW + 1000).check(base64url.encode(redated)), false);
});

test("malformed input returns false and never throws", async () => {
  const nonces = service(() => NOW);
  const good = await nonces.issue();
  for (const bad of [
    "",
    "abc",
    `${good}A`,
    good.slice(1),
    `${good.slice(0, -1)}=`,
    `${good.slice(0, -1)}+`,
    "A".repeat(76),
    "x".repeat(100_000),
    null,
    42,
    {},
  ]) {
    assert.equal(await nonces.check(bad as string), false, String(bad).slice(0, 20));
  }
});

test("weak configuration is refused", () => {
  assert.throws(() => createNonceService({ secret: new Uint8Array(31) }), TypeError);
  assert.throws(() => createNonceService({ secret: SECRET, lifetimeSeconds: 0 }), RangeError);
});

test("the secret is copied: changing the caller's buffer later changes nothing", async () => {
  const secret = new Uint8Array(32).fill(3);
  const nonces = createNonceService({ secret, now: () => NOW });
  secret.fill(0);
  const nonce = await nonces.issue();
  assert.equal(await nonces.check(nonce), true);
  const sameSecret = createNonceService({ secret: new Uint8Array(32).fill(3), now: () => NOW });
  assert.equal(await sameSecret.check(nonce), true);
});
