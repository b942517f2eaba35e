/** What enforcement decides for pushed rows, and which pushes it refuses as malformed. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FULL_ACCESS, type Permissions } from "@meshauth/core";
import {
  type CollectionSpec,
  checkCollectionSpec,
  enforcerFor,
  SYNC_LIMITS,
  type SyncDocument,
  SyncInputError,
} from "@meshauth/sync";
import fc from "fast-check";

const todos: CollectionSpec = { name: "todos", idFields: ["owner", "list"] };
const alice: Permissions = {
  read: {
    everything: false,
    queriesByCollection: { todos: ["_id.owner == 'alice' || _id.list == 'shared'"] },
  },
  write: { everything: false, queriesByCollection: { todos: ["_id.owner == 'alice'"] } },
};
const readOnly: Permissions = {
  read: { everything: true, queriesByCollection: {} },
  write: { everything: false, queriesByCollection: {} },
};

const doc = (owner: string, list: string, extra: Record<string, unknown> = {}): SyncDocument => ({
  owner,
  list,
  title: "t",
  _deleted: false,
  ...extra,
});

function code(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    assert.ok(e instanceof SyncInputError, `expected a SyncInputError, got ${String(e)}`);
    return e.code;
  }
  assert.fail("expected the push to be refused");
}

describe("push decisions", () => {
  const e = enforcerFor(alice, todos);

  test("a new document the identity may write is written, with its composite _id", () => {
    const [row] = e.checkPush({ rows: [{ assumedMasterState: null, newDocumentState: doc("alice", "l1") }] });
    assert.ok(row);
    assert.deepEqual(row.id, { owner: "alice", list: "l1" });
    assert.equal(e.decide(row, undefined).kind, "write");
  });

  test("a document outside the write rules is refused with write_denied, even if readable", () => {
    const [row] = e.checkPush({
      rows: [{ assumedMasterState: null, newDocumentState: doc("bob", "shared") }],
    });
    assert.ok(row);
    const d = e.decide(row, undefined);
    assert.equal(d.kind, "refused");
    assert.equal(d.kind === "refused" && d.refusal.code, "write_denied");
    assert.deepEqual(d.kind === "refused" && d.refusal.id, { owner: "bob", list: "shared" });
  });

  test("a delete needs write permission like any change", () => {
    const before = doc("bob", "shared");
    const [row] = e.checkPush({
      rows: [{ assumedMasterState: before, newDocumentState: { ...before, _deleted: true } }],
    });
    assert.ok(row);
    assert.equal(e.decide(row, before).kind, "refused");
  });

  test("a stale assumed state is a conflict carrying the master state", () => {
    const master = doc("alice", "l1", { title: "theirs" });
    const [row] = e.checkPush({
      rows: [
        { assumedMasterState: doc("alice", "l1"), newDocumentState: doc("alice", "l1", { title: "mine" }) },
      ],
    });
    assert.ok(row);
    assert.deepEqual(e.decide(row, master), { kind: "conflict", master });
  });

  test("a new document over an existing one (a tombstone too) conflicts", () => {
    const [row] = e.checkPush({ rows: [{ assumedMasterState: null, newDocumentState: doc("alice", "l1") }] });
    assert.ok(row);
    assert.equal(e.decide(row, doc("alice", "l1", { _deleted: true })).kind, "conflict");
  });

  test("the assumed state matches regardless of member order and RxDB's local members", () => {
    const master = doc("alice", "l1", { n: { a: 1, b: [1, 2] } });
    const assumed = {
      _rev: "1-x",
      _meta: { lwt: 1 },
      n: { b: [1, 2], a: 1 },
      title: "t",
      list: "l1",
      owner: "alice",
      _deleted: false,
    };
    const [row] = e.checkPush({
      rows: [{ assumedMasterState: assumed, newDocumentState: doc("alice", "l1") }],
    });
    assert.ok(row);
    assert.equal(e.decide(row, master).kind, "write");
    assert.equal(Object.hasOwn(row.doc, "_rev"), false);
  });

  test("a writer that may not read the master state gets no conflict body", () => {
    const writeOnly: Permissions = {
      read: { everything: false, queriesByCollection: {} },
      write: { everything: true, queriesByCollection: {} },
    };
    const w = enforcerFor(writeOnly, todos);
    const [row] = w.checkPush({ rows: [{ assumedMasterState: null, newDocumentState: doc("x", "y") }] });
    assert.ok(row);
    const d = w.decide(row, doc("x", "y", { secret: "s" }));
    assert.equal(d.kind === "refused" && d.refusal.code, "unreadable_conflict");
    assert.equal(JSON.stringify(d).includes("secret"), false);
  });

  test("a read-only identity writes nothing; everything writes all", () => {
    const ro = enforcerFor(readOnly, todos);
    const full = enforcerFor(FULL_ACCESS, todos);
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.boolean(), (owner, list, deleted) => {
        const body = {
          rows: [{ assumedMasterState: null, newDocumentState: doc(owner, list, { _deleted: deleted }) }],
        };
        const [r] = ro.checkPush(body);
        const [f] = full.checkPush(body);
        assert.ok(r && f);
        assert.equal(ro.decide(r, undefined).kind, "refused");
        assert.equal(full.decide(f, undefined).kind, "write");
      }),
      { numRuns: 200 },
    );
  });
});

describe("malformed pushes are refused whole", () => {
  const e = enforcerFor(FULL_ACCESS, todos);
  const row = (newDocumentState: unknown, assumedMasterState: unknown = null) => ({
    assumedMasterState,
    newDocumentState,
  });

  test("an _id change is id_changed, naming the field and the row", () => {
    try {
      e.checkPush({ rows: [row(doc("a", "l1")), row(doc("a", "l2"), doc("a", "l1"))] });
      assert.fail("accepted");
    } catch (err) {
      assert.ok(err instanceof SyncInputError);
      assert.equal(err.code, "id_changed");
      assert.equal(err.details.index, 1);
      assert.deepEqual(err.details.fields, ["list"]);
    }
  });

  test("missing, non-string and unstorable ID values are invalid_document", () => {
    assert.equal(
      code(() => e.checkPush({ rows: [row({ owner: "a", _deleted: false })] })),
      "invalid_document",
    );
    assert.equal(
      code(() => e.checkPush({ rows: [row({ owner: "a", list: 3, _deleted: false })] })),
      "invalid_document",
    );
    assert.equal(
      code(() => e.checkPush({ rows: [row(doc("a\u0000", "l"))] })),
      "invalid_document",
    );
    assert.equal(
      code(() => e.checkPush({ rows: [row(doc("\uD800", "l"))] })),
      "invalid_document",
    );
    assert.equal(
      code(() => e.checkPush({ rows: [row(doc("a".repeat(SYNC_LIMITS.maxIdValueBytes + 1), "l"))] })),
      "invalid_document",
    );
  });

  test("an inherited ID field does not count", () => {
    const proto = Object.create({ list: "l" }) as Record<string, unknown>;
    proto.owner = "a";
    proto._deleted = false;
    assert.equal(
      code(() => e.checkPush({ rows: [row(proto)] })),
      "invalid_document",
    );
  });

  test("bad shapes, reserved members and duplicates are invalid_document", () => {
    assert.equal(
      code(() => e.checkPush({})),
      "invalid_document",
    );
    assert.equal(
      code(() => e.checkPush({ rows: [null] })),
      "invalid_document",
    );
    assert.equal(
      code(() => e.checkPush({ rows: [row({ owner: "a", list: "l" })] })),
      "invalid_document",
    );
    assert.equal(
      code(() => e.checkPush({ rows: [row(doc("a", "l", { _secret: 1 }))] })),
      "invalid_document",
    );
    assert.equal(
      code(() => e.checkPush({ rows: [row(doc("a", "l")), row(doc("a", "l"))] })),
      "invalid_document",
    );
  });

  test("a document over the size limit is document_too_large", () => {
    const big = doc("a", "l", { body: "x".repeat(SYNC_LIMITS.maxDocumentBytes) });
    assert.equal(
      code(() => e.checkPush({ rows: [row(big)] })),
      "document_too_large",
    );
  });

  test("a batch over the limit is batch_too_large", () => {
    const rows = Array.from({ length: SYNC_LIMITS.maxPushRows + 1 }, (_, i) => row(doc("a", `l${i}`)));
    assert.equal(
      code(() => e.checkPush({ rows })),
      "batch_too_large",
    );
  });
});

describe("collection specs", () => {
  test("accepts names and fields RxDB can use, refuses the rest", () => {
    assert.deepEqual(checkCollectionSpec({ name: "todos", idFields: ["owner", "list"] }), todos);
    for (const bad of [
      { name: "Todos", idFields: ["id"] },
      { name: "todos", idFields: [] },
      { name: "todos", idFields: ["_id"] },
      { name: "todos", idFields: ["a", "a"] },
      { name: "todos", idFields: ["__proto__"] },
    ]) {
      assert.throws(() => checkCollectionSpec(bad), { code: "invalid_request" });
    }
  });
});
