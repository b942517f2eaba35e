// The revocation store with a real hub's signed lists: what a device fetches while online
// (GET /apps/{app}/revocations, verified with /jwks.json) is what it hands on to peers.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CertificateError } from "@meshauth/core";
import { createRevocationStore } from "@meshauth/rxdb";
import { type SdkTestHub, startSdkHub } from "../../client/test/helpers/hub.js";

describe("revocation store", () => {
  let t: SdkTestHub;
  let other: SdkTestHub;
  before(async () => {
    t = await startSdkHub();
    other = await startSdkHub();
  });
  after(async () => {
    await t?.close();
    await other?.close();
  });

  const list = async (hub: SdkTestHub) => {
    const res = await fetch(`${hub.hub.url}/apps/${hub.app.id}/revocations`);
    assert.equal(res.status, 200);
    return res.text();
  };
  const jwks = async (hub: SdkTestHub) => (await (await fetch(`${hub.hub.url}/jwks.json`)).json()) as never;

  test("keeps the newest list the hub signed, never an older one, and tells its subscribers", async () => {
    const first = await list(t);
    const store = await createRevocationStore({ appId: t.app.id, keys: await jwks(t), initial: first });
    assert.equal(store.current()?.version, 0);
    assert.equal(store.signed(), first);
    const seen: number[] = [];
    store.subscribe((l) => seen.push(l.version));

    const revoked = await t.admin("POST", `/apps/${t.app.id}/revocations`, {
      kind: "user",
      value: "mallory",
    });
    assert.equal(revoked.status, 201, JSON.stringify(revoked.body));
    const second = await list(t);
    assert.equal(await store.offer(second), true);
    assert.deepEqual(store.current()?.entries.userIds, ["mallory"]);
    assert.equal(await store.offer(first), false, "an older list does not replace a newer one");
    assert.equal(store.current()?.version, 1);
    assert.deepEqual(seen, [1]);
    // The list's time is when it changed: fetched again, it is the same list.
    assert.equal(
      (
        await createRevocationStore({ appId: t.app.id, keys: await jwks(t), initial: await list(t) })
      ).current()?.issuedAt,
      store.current()?.issuedAt,
    );
  });

  test("a list signed by another hub, or for another app, is refused", async () => {
    const store = await createRevocationStore({ appId: t.app.id, keys: await jwks(t) });
    await assert.rejects(
      store.offer(await list(other)),
      (e) => e instanceof CertificateError && e.reason === "invalid_revocation_list",
    );
    await assert.rejects(store.offer("not a jws"), CertificateError);
    await assert.rejects(store.offer("x".repeat(300_000)), CertificateError);
    assert.equal(store.current(), undefined);
  });
});
