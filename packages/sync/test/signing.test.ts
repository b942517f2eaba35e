// Signed revisions with real device certificates: what a receiver accepts, and every way a
// relay or a thief could try to pass off content as someone else's.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { compilePermissions, type Identity, type RevocationList } from "@meshauth/core";
import {
  compareRevisions,
  createRevisionSigner,
  createRevisionVerifier,
  type RevisionSigner,
  type RevisionVerifierOptions,
  readSignature,
  revisionId,
  SIGNATURE_FIELD,
  signedSchema,
} from "../src/signing.js";
import type { SyncDocument } from "../src/wire.js";
import {
  createSharedKeyApp,
  createTestApp,
  type MeshDevice,
  readOnlyRules,
  type TestApp,
} from "./helpers/mesh-devices.js";

const collection = "todos";

// Stands in for the receiver's rule check: the permission set compiled by core.
function canWrite(author: Identity, name: string, document: SyncDocument): boolean {
  return compilePermissions(author.permissions).canWrite(name, {
    ...document,
    _id: { owner: document["owner"], list: document["list"] },
  });
}

function idOf(document: Record<string, unknown>) {
  return { owner: String(document["owner"]), list: String(document["list"]) };
}

function signerFor(app: { appId: string }, device: MeshDevice, now?: () => number): Promise<RevisionSigner> {
  return createRevisionSigner({
    appId: app.appId,
    privateKey: device.privateKey,
    publicKey: device.publicKey,
    certificate: device.certificatePem,
    ...(now ? { now } : {}),
  });
}

let app: TestApp;
let alice: MeshDevice;
let bob: MeshDevice;
let reader: MeshDevice;
let aliceSigner: RevisionSigner;
let bobSigner: RevisionSigner;
let revocations: RevocationList | undefined;

function verifier(extra: Partial<RevisionVerifierOptions> = {}) {
  return createRevisionVerifier({
    appId: app.appId,
    trust: app.trust,
    revocations: () => revocations,
    canWrite,
    ...extra,
  });
}

async function signed(
  signer: RevisionSigner,
  document: Record<string, unknown>,
  previous?: Record<string, unknown>,
) {
  return (await signer.sign({
    collection,
    id: idOf(document),
    document,
    previous: previous ?? null,
  })) as SyncDocument;
}

function verify(document: SyncDocument, replaces?: Record<string, unknown> | null, v = verifier()) {
  return v.verify({ collection, id: idOf(document), document, replaces: replaces ?? null });
}

function refusal(code: string) {
  return (error: unknown) => {
    assert.equal((error as { code?: string }).code, code, (error as Error).message);
    return true;
  };
}

before(async () => {
  app = await createTestApp();
  alice = await app.device("alice");
  bob = await app.device("bob");
  reader = await app.device("reader", { permissions: readOnlyRules() });
  aliceSigner = await signerFor(app, alice);
  bobSigner = await signerFor(app, bob);
});

describe("signed revisions", () => {
  test("a receiver verifies who wrote a document, offline, from the document alone", async () => {
    const doc = await signed(aliceSigner, { owner: "alice", list: "l1", title: "milk", _deleted: false });
    const signature = readSignature(doc);
    assert.ok(signature);
    assert.equal(signature.by, alice.peerKey);
    assert.equal(signature.n, 1);
    assert.equal(signature.prev, null);
    const verified = await verify(doc);
    assert.equal(verified.author.userId, "alice");
    assert.equal(verified.author.peerKey, alice.peerKey);
    assert.equal(verified.id, await revisionId(signature));
  });

  test("RxDB's local bookkeeping (_meta, _rev, _attachments) is not part of what is signed", async () => {
    const doc = await signed(aliceSigner, { owner: "alice", list: "l1", title: "milk", _deleted: false });
    await verify({ ...doc, _meta: { lwt: 1 }, _rev: "1-abc", _attachments: {} });
  });

  test("a revision chains to the one it replaces", async () => {
    const first = await signed(aliceSigner, { owner: "alice", list: "l2", title: "a", _deleted: false });
    const second = await signed(aliceSigner, { ...first, title: "b" }, first);
    const s1 = readSignature(first);
    const s2 = readSignature(second);
    assert.ok(s1 && s2);
    assert.equal(s2.n, 2);
    assert.equal(s2.prev, await revisionId(s1));
    assert.ok(compareRevisions(s2, s1) > 0);
    await verify(second, first);
  });

  test("content altered after signing is refused (a relay changing a title)", async () => {
    const doc = await signed(aliceSigner, { owner: "alice", list: "l1", title: "milk", _deleted: false });
    await assert.rejects(verify({ ...doc, title: "beer" }), refusal("altered"));
    await assert.rejects(verify({ ...doc, extra: 1 }), refusal("altered"));
  });

  test("a delete is signed: flipping _deleted is an alteration", async () => {
    const doc = await signed(aliceSigner, { owner: "alice", list: "l1", title: "milk", _deleted: false });
    await assert.rejects(verify({ ...doc, _deleted: true }), refusal("altered"));
    const deleted = await signed(aliceSigner, { ...doc, _deleted: true }, doc);
    await verify(deleted, doc);
  });

  test("a forgery 'by alice' signed with bob's key is refused", async () => {
    const honest = await signed(bobSigner, { owner: "alice", list: "l1", title: "forged", _deleted: false });
    const sig = readSignature(honest);
    assert.ok(sig);
    const aliceDoc = await signed(aliceSigner, {
      owner: "alice",
      list: "l1",
      title: "forged",
      _deleted: false,
    });
    const aliceSig = readSignature(aliceDoc);
    assert.ok(aliceSig);
    // Alice's certificate and peer key, Bob's signature.
    const forged = {
      ...honest,
      [SIGNATURE_FIELD]: { ...sig, by: alice.peerKey, cred: aliceSig.cred },
    } as SyncDocument;
    await assert.rejects(verify(forged), refusal("bad_signature"));
    // Bob's certificate, claiming Alice's peer key.
    const claimed = { ...honest, [SIGNATURE_FIELD]: { ...sig, by: alice.peerKey } } as SyncDocument;
    await assert.rejects(verify(claimed), refusal("bad_signature"));
  });

  test("a signer holding another device's certificate cannot sign for it", async () => {
    const thief = await createRevisionSigner({
      appId: app.appId,
      privateKey: bob.privateKey,
      publicKey: bob.publicKey,
      certificate: alice.certificatePem,
    });
    const doc = await thief.sign({
      collection,
      id: { owner: "alice", list: "l1" },
      document: { owner: "alice", list: "l1", title: "x", _deleted: false },
    });
    await assert.rejects(verify(doc as SyncDocument), refusal("bad_signature"));
  });

  test("any change to the signed fields breaks the signature", async () => {
    const doc = await signed(aliceSigner, { owner: "alice", list: "l1", title: "milk", _deleted: false });
    const sig = readSignature(doc);
    assert.ok(sig);
    for (const change of [{ n: 7 }, { at: sig.at + 1 }, { prev: "x" }]) {
      const tampered = { ...doc, [SIGNATURE_FIELD]: { ...sig, ...change } } as SyncDocument;
      await assert.rejects(verify(tampered), refusal("bad_signature"), JSON.stringify(change));
    }
  });

  test("a signature moved to another collection or app is refused", async () => {
    const doc = await signed(aliceSigner, { owner: "alice", list: "l1", title: "milk", _deleted: false });
    await assert.rejects(
      verifier().verify({ collection: "notes", id: idOf(doc), document: doc }),
      refusal("bad_signature"),
    );
    const other = await createTestApp("app-other");
    await assert.rejects(
      createRevisionVerifier({ appId: "app-other", trust: other.trust, canWrite: () => true }).verify({
        collection,
        id: idOf(doc),
        document: doc,
      }),
      refusal("untrusted_author"),
    );
  });

  test("an author certified by another CA is refused", async () => {
    const other = await createTestApp(app.appId);
    const stranger = await other.device("alice");
    const doc = await signed(await signerFor(app, stranger), {
      owner: "alice",
      list: "l1",
      title: "x",
      _deleted: false,
    });
    await assert.rejects(verify(doc), refusal("untrusted_author"));
  });

  test("an author whose rules do not allow the _id is refused, whoever relays it", async () => {
    const doc = await signed(bobSigner, { owner: "alice", list: "l1", title: "mine now", _deleted: false });
    await assert.rejects(verify(doc), refusal("author_cannot_write"));
    const readOnly = await signed(await signerFor(app, reader), {
      owner: "reader",
      list: "l1",
      title: "x",
      _deleted: false,
    });
    await assert.rejects(verify(readOnly), refusal("author_cannot_write"));
  });

  test("replays: an older revision does not replace a newer one; the same one again is a no-op", async () => {
    const first = await signed(aliceSigner, { owner: "alice", list: "l3", title: "a", _deleted: false });
    const second = await signed(aliceSigner, { ...first, title: "b" }, first);
    await assert.rejects(verify(first, second), refusal("stale_revision"));
    await verify(second, second);
    await assert.rejects(verify({ ...second, title: "c" }, second), refusal("altered"));
    // A delete replayed over a re-creation, and a re-creation from scratch (n = 1) over a delete.
    const deleted = await signed(aliceSigner, { ...second, _deleted: true }, second);
    const recreated = await signed(aliceSigner, { ...deleted, _deleted: false, title: "c" }, deleted);
    await assert.rejects(verify(deleted, recreated), refusal("stale_revision"));
    const fresh = await signed(aliceSigner, { owner: "alice", list: "l3", title: "z", _deleted: false });
    await assert.rejects(verify(fresh, deleted), refusal("stale_revision"));
  });

  test("concurrent revisions of one generation: both verify, every peer picks the same winner", async () => {
    const base = await signed(aliceSigner, { owner: "alice", list: "l4", title: "a", _deleted: false });
    const left = await signed(aliceSigner, { ...base, title: "left" }, base);
    const right = await signed(aliceSigner, { ...base, title: "right" }, base);
    const l = readSignature(left);
    const r = readSignature(right);
    assert.ok(l && r);
    assert.equal(Math.sign(compareRevisions(l, r)), -Math.sign(compareRevisions(r, l)));
    assert.notEqual(compareRevisions(l, r), 0);
    const [winner, loser] = compareRevisions(l, r) > 0 ? [left, right] : [right, left];
    await verify(winner, loser);
    await assert.rejects(verify(loser, winner), refusal("stale_revision"));
  });

  test("a revoked author: revisions signed before the list stand, later ones are refused", async () => {
    const t0 = Date.now();
    const carol = await app.device("carol");
    const early = await signed(await signerFor(app, carol, () => t0 - 60_000), {
      owner: "carol",
      list: "l1",
      title: "before",
      _deleted: false,
    });
    const late = await signed(await signerFor(app, carol, () => t0 + 2000), {
      owner: "carol",
      list: "l2",
      title: "after",
      _deleted: false,
    });
    await verify(late);
    revocations = (await app.revoke({ peerKeys: [carol.peerKey] }, Math.floor(t0 / 1000))).list;
    try {
      await verify(early);
      await assert.rejects(verify(late), refusal("author_revoked"));
    } finally {
      revocations = undefined;
    }
    // By user ID and by certificate serial alike.
    const byUser: RevocationList = {
      appId: app.appId,
      version: 9,
      issuedAt: Math.floor(t0 / 1000),
      entries: { userIds: ["carol"], peerKeys: [], sessionIds: [], serials: [] },
    };
    await assert.rejects(
      verify(late, null, verifier({ revocations: () => byUser })),
      refusal("author_revoked"),
    );
    const bySerial = {
      ...byUser,
      entries: { ...byUser.entries, userIds: [], serials: [carol.serialNumber] },
    };
    await assert.rejects(
      verify(late, null, verifier({ revocations: () => bySerial })),
      refusal("author_revoked"),
    );
  });

  test("a revision signed outside the certificate's validity, or in the future, is refused", async () => {
    const past = new Date(Date.now() - 3 * 3600_000);
    const old = await app.device("alice", { now: past, exp: Math.floor(past.getTime() / 1000) + 3600 });
    const expired = await signed(await signerFor(app, old), {
      owner: "alice",
      list: "l1",
      title: "x",
      _deleted: false,
    });
    await assert.rejects(verify(expired), refusal("untrusted_author"));
    const future = await signed(await signerFor(app, alice, () => Date.now() + 3600_000), {
      owner: "alice",
      list: "l1",
      title: "x",
      _deleted: false,
    });
    await assert.rejects(verify(future), refusal("from_the_future"));
  });

  test("unsigned documents and junk signatures are refused as unsigned", async () => {
    await assert.rejects(verify({ owner: "alice", list: "l1", _deleted: false }), refusal("unsigned"));
    const doc = await signed(aliceSigner, { owner: "alice", list: "l1", title: "milk", _deleted: false });
    const sig = readSignature(doc);
    assert.ok(sig);
    for (const junk of [
      "text",
      [],
      { ...sig, v: 2 },
      { ...sig, n: 0 },
      { ...sig, n: 1.5 },
      { ...sig, cred: {} },
      { ...sig, cred: { cert: "x".repeat(10_000) } },
    ]) {
      await assert.rejects(verify({ ...doc, [SIGNATURE_FIELD]: junk } as SyncDocument), refusal("unsigned"));
    }
    const badCert = { ...doc, [SIGNATURE_FIELD]: { ...sig, cred: { cert: "not*base64" } } } as SyncDocument;
    await assert.rejects(verify(badCert), refusal("untrusted_author"));
  });

  test("shared-key mode: devices sign with their own keys, anyone may write, strangers are refused", async () => {
    const shared = await createSharedKeyApp();
    const d1 = await shared.device("d1");
    const signer = await createRevisionSigner({
      appId: shared.appId,
      privateKey: d1.privateKey,
      publicKey: d1.publicKey,
      certificate: d1.certificatePem,
    });
    const sharedVerifier = createRevisionVerifier({ appId: shared.appId, trust: shared.trust, canWrite });
    const doc = (await signer.sign({
      collection,
      id: { owner: "anyone", list: "l" },
      document: { owner: "anyone", list: "l", _deleted: false },
    })) as SyncDocument;
    const verified = await sharedVerifier.verify({ collection, id: idOf(doc), document: doc });
    assert.equal(verified.author.provider, "shared-key");
    assert.equal(verified.author.userId, "d1");
    const otherKey = await createSharedKeyApp(shared.appId);
    const stranger = await otherKey.device("d9");
    const strangerSigner = await createRevisionSigner({
      appId: shared.appId,
      privateKey: stranger.privateKey,
      publicKey: stranger.publicKey,
      certificate: stranger.certificatePem,
    });
    const foreign = (await strangerSigner.sign({
      collection,
      id: idOf(doc),
      document: { owner: "anyone", list: "l", _deleted: false },
    })) as SyncDocument;
    await assert.rejects(
      sharedVerifier.verify({ collection, id: idOf(doc), document: foreign }),
      refusal("untrusted_author"),
    );
  });

  test("signedSchema declares the signature field", () => {
    const schema = signedSchema({
      version: 0,
      primaryKey: "id",
      type: "object",
      properties: { id: { type: "string" } },
    });
    assert.deepEqual(Object.keys(schema.properties), ["id", SIGNATURE_FIELD]);
  });
});
