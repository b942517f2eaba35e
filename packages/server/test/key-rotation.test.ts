import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { createHub } from "../src/hub.js";
import { JWKS_MAX_AGE_SECONDS, KEY_PUBLISH_AHEAD_SECONDS } from "../src/keys/signing-keys.js";
import { cleanup, engines, testConfig } from "./helpers/engines.js";

after(cleanup);

for (const engine of engines()) {
  describe(`signing key rotation without a gap on ${engine.name}`, () => {
    test("a new key is published before it signs, for longer than a cached JWKS lives; the old one signs meanwhile", async () => {
      assert.ok(KEY_PUBLISH_AHEAD_SECONDS > JWKS_MAX_AGE_SECONDS + 60, "longer than max-age plus skew");
      const config = await testConfig(engine, { demoApp: false });
      const hub = await createHub(config);
      let later: Awaited<ReturnType<typeof createHub>> | undefined;
      try {
        const oldKid = decodeProtectedHeader(await hub.keys.sign({ sub: "a" }, "at+jwt")).kid;
        // A resource server caches the JWKS as served just before the rotation.
        const rotated = await hub.keys.rotate();
        assert.equal(rotated.signsFrom, hub.now() + KEY_PUBLISH_AHEAD_SECONDS);
        const published = (await hub.http.inject("/jwks.json"))
          .json()
          .keys.map((k: { kid: string }) => k.kid);
        assert.ok(published.includes(rotated.kid), "the new key is in the JWKS at once");
        const cachedBefore = createLocalJWKSet({
          keys: (await hub.keys.jwks()).keys.filter((k) => k.kid === oldKid),
        });
        const during = await hub.keys.sign({ sub: "b", exp: hub.now() + 600 }, "at+jwt");
        assert.equal(decodeProtectedHeader(during).kid, oldKid, "the old key still signs");
        assert.equal((await jwtVerify(during, cachedBefore)).payload.sub, "b", "a stale JWKS still verifies");
        const statuses = Object.fromEntries((await hub.keys.list()).map((k) => [k.kid, k.status]));
        assert.equal(statuses[rotated.kid], "next");
        assert.equal(statuses[oldKid as string], "active");
        await hub.close();

        // Another process, once the handover is due: the new key signs, the old one stays published.
        later = await createHub({ ...config, clockOffsetSeconds: KEY_PUBLISH_AHEAD_SECONDS + 1 });
        const after = await later.keys.sign({ sub: "c", exp: later.now() + 600 }, "at+jwt");
        assert.equal(decodeProtectedHeader(after).kid, rotated.kid);
        const jwks = createLocalJWKSet(await later.keys.jwks());
        assert.equal((await jwtVerify(during, jwks)).payload.sub, "b", "tokens of the old key still verify");
        const now = Object.fromEntries((await later.keys.list()).map((k) => [k.kid, k.status]));
        assert.equal(now[rotated.kid], "active");
        assert.equal(now[oldKid as string], "retiring");
      } finally {
        await later?.close();
        await hub.close().catch(() => {});
      }
    });

    test("an emergency rotation switches at once, also in the middle of a handover", async () => {
      const hub = await createHub(await testConfig(engine, { demoApp: false }));
      try {
        const first = decodeProtectedHeader(await hub.keys.sign({ sub: "a" }, "at+jwt")).kid;
        const scheduled = await hub.keys.rotate();
        const urgent = await hub.keys.rotate({ immediate: true });
        assert.equal(urgent.signsFrom, hub.now());
        assert.deepEqual(new Set(urgent.retired), new Set([first, scheduled.kid]));
        assert.equal(decodeProtectedHeader(await hub.keys.sign({ sub: "b" }, "at+jwt")).kid, urgent.kid);
        const kids = (await hub.keys.jwks()).keys.map((k) => k.kid);
        assert.ok(kids.includes(first) && kids.includes(scheduled.kid), "older keys stay published");
      } finally {
        await hub.close();
      }
    });
  });
}
