/**
 * The hub verifies signed revisions (`meshauthSig`, docs/mesh.md) like any peer: a pushed
 * document whose signature does not verify is refused per document and not stored; unsigned
 * documents are decided by the pusher's rules as before.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createCertificateSigningRequest, createDpopProof } from "@meshauth/core";
import { createRevisionSigner, type RevisionSigner, SIGNATURE_FIELD } from "@meshauth/sync";
import { cleanup, engines } from "./helpers/engines.js";
import { admin, createApp, startTestHub } from "./helpers/hub.js";
import { ids, loginAs, type SyncSession } from "./helpers/sync.js";

after(cleanup);

const rules = (userId: string) => ({
  read: { everything: false, queriesByCollection: { todos: ["true"] } },
  write: {
    everything: false,
    queriesByCollection: { todos: [`_id.owner == '${userId}'`, "_id.owner == 'shared'"] },
  },
});
const todo = (owner: string, list: string, title = `${owner}'s ${list}`) => ({
  owner,
  list,
  title,
  _deleted: false,
});
const create = (doc: Record<string, unknown>) => ({ assumedMasterState: null, newDocumentState: doc });

/** A device certificate for a session's key, from POST /certificate. */
async function certificateFor(baseUrl: string, s: SyncSession): Promise<string> {
  const csr = await createCertificateSigningRequest({ keys: s.device.keys });
  let nonce: string | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    const dpop = await createDpopProof({
      privateKey: s.device.keys.privateKey,
      publicKey: s.device.keys.publicKey,
      htm: "POST",
      htu: `${baseUrl}/certificate`,
      accessToken: s.accessToken,
      ...(nonce ? { nonce } : {}),
    });
    const res = await fetch(`${baseUrl}/certificate`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `DPoP ${s.accessToken}`, dpop },
      body: JSON.stringify({ csr }),
    });
    nonce = res.headers.get("dpop-nonce") ?? undefined;
    if (res.status === 401 && nonce) continue;
    const body = (await res.json()) as { certificate: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    return body.certificate;
  }
  throw new Error("no certificate");
}

for (const engine of engines()) {
  describe(`signed pushes on ${engine.name}`, () => {
    let hub: Awaited<ReturnType<typeof startTestHub>>;
    let app: { id: string; clientSecret: string };
    let alice: SyncSession;
    let bob: SyncSession;
    let aliceSigner: RevisionSigner;
    let bobSigner: RevisionSigner;

    before(async () => {
      hub = await startTestHub(engine, { demoApp: false });
      app = await createApp(hub, { name: "todo", providers: ["client"] });
      const declared = await hub.http.inject({
        method: "POST",
        url: `/admin/apps/${app.id}/collections`,
        headers: admin(hub),
        payload: { name: "todos", idFields: ["owner", "list"] },
      });
      assert.equal(declared.statusCode, 201, declared.body);
      alice = await loginAs(hub.url, app, "alice", rules("alice"));
      bob = await loginAs(hub.url, app, "bob", rules("bob"));
      for (const [s, set] of [
        [alice, (x: RevisionSigner) => (aliceSigner = x)],
        [bob, (x: RevisionSigner) => (bobSigner = x)],
      ] as const) {
        set(
          await createRevisionSigner({
            appId: app.id,
            privateKey: s.device.keys.privateKey,
            publicKey: s.device.keys.publicKey as CryptoKey,
            certificate: await certificateFor(hub.url, s),
          }),
        );
      }
    });
    after(() => hub.close());

    const sign = (signer: RevisionSigner, doc: Record<string, unknown>) =>
      signer.sign({
        collection: "todos",
        id: { owner: String(doc["owner"]), list: String(doc["list"]) },
        document: doc,
      });

    test("a signed document that verifies is stored with its signature", async () => {
      const doc = await sign(aliceSigner, todo("alice", "signed"));
      const res = await alice.call("todos", "push", { rows: [create(doc)] });
      assert.deepEqual(res.body, { conflicts: [], refused: [] });
      const pulled = await bob.call("todos", "pull", { checkpoint: null, limit: 100 });
      const stored = pulled.body.documents.find((d: Record<string, unknown>) => d["list"] === "signed");
      assert.deepEqual(stored?.[SIGNATURE_FIELD], doc[SIGNATURE_FIELD]);
    });

    test("altered, forged and unauthorised signed documents are refused; the rest of the batch lands", async () => {
      const original = await sign(aliceSigner, todo("shared", "list"));
      const altered = { ...original, title: "changed on the way" };
      // Bob's signature over a document naming alice's key and certificate.
      const bobs = await sign(bobSigner, todo("shared", "forged"));
      const aliceSig = (await sign(aliceSigner, todo("shared", "x")))[SIGNATURE_FIELD] as Record<
        string,
        unknown
      >;
      const forged = {
        ...bobs,
        [SIGNATURE_FIELD]: {
          ...(bobs[SIGNATURE_FIELD] as object),
          by: aliceSig["by"],
          cred: aliceSig["cred"],
        },
      };
      // Bob signs alice's own _id: his signature verifies, his rules do not allow it.
      const trespass = await sign(bobSigner, todo("alice", "mine"));
      const ok = await sign(bobSigner, todo("bob", "fine"));
      const res = await bob.call("todos", "push", {
        rows: [create(altered), create(forged), create(trespass), create(ok)],
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(
        res.body.refused.map((r: { id: { list: string }; code: string }) => [r.id.list, r.code]),
        [
          ["list", "altered"],
          ["forged", "bad_signature"],
          ["mine", "author_cannot_write"],
        ],
      );
      const pulled = await alice.call("todos", "pull", { checkpoint: null, limit: 100 });
      assert.deepEqual(ids(pulled.body.documents), ["alice/signed", "bob/fine"]);
    });

    test("a signed document by a revoked author, signed after the revocation, is refused", async () => {
      const carol = await loginAs(hub.url, app, "carol", rules("carol"));
      const carolSigner = await createRevisionSigner({
        appId: app.id,
        privateKey: carol.device.keys.privateKey,
        publicKey: carol.device.keys.publicKey as CryptoKey,
        certificate: await certificateFor(hub.url, carol),
        now: () => Date.now() + 2000,
      });
      const doc = await sign(carolSigner, todo("carol", "late"));
      const revoked = await hub.http.inject({
        method: "POST",
        url: `/admin/apps/${app.id}/revocations`,
        headers: admin(hub),
        payload: { kind: "device", value: carol.device.jkt },
      });
      assert.equal(revoked.statusCode, 201, revoked.body);
      // Relayed by alice, whose own session is fine.
      const res = await alice.call("todos", "push", { rows: [create(doc)] });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(
        res.body.refused.some((r: { code: string }) => r.code === "author_revoked"),
        JSON.stringify(res.body),
      );
    });
  });
}
