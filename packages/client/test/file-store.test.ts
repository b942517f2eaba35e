// The Node file store on real files: modes, atomic writes, keys that survive a restart and
// interoperate with openssl, corrupted and insecure files, and the lock shared by processes.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { calculateJwkThumbprint, type JWK } from "jose";
import { MeshauthClientError } from "../src/errors.js";
import type { StoredSession } from "../src/session.js";
import { fileStore, lockName } from "../src/stores/file.js";
import type { StoredCertificate } from "../src/stores/types.js";

const run = promisify(execFile);
const STORE_MODULE = pathToFileURL(fileURLToPath(new URL("../src/stores/file.ts", import.meta.url))).href;
const ROOT = mkdtempSync(join(tmpdir(), "meshauth-file-store-"));
let counter = 0;

after(() => rmSync(ROOT, { recursive: true, force: true }));

function newDir(): string {
  return join(ROOT, `store-${++counter}`);
}

const session: StoredSession = {
  version: 1,
  accessToken: "access-token",
  accessTokenExpiresAt: 1_900_000_000_000,
  issuedAt: 1_800_000_000_000,
  refreshToken: "refresh-token",
  refreshTokenExpiresAt: 1_950_000_000_000,
  identity: {
    userId: "user-1",
    appId: "app-1",
    provider: "email",
    permissions: { read: { everything: true }, write: { everything: false } },
    userInfo: { email: "ada@example.com" },
    exp: 1_950_000_000,
  } as unknown as StoredSession["identity"],
};

const certificate: StoredCertificate = {
  certificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
  caCertificates: ["-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n"],
  expiresAt: 1_950_000_000_000,
};

async function thumbprint(key: CryptoKey): Promise<string> {
  return calculateJwkThumbprint((await crypto.subtle.exportKey("jwk", key)) as JWK);
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

function isStoreError(code: string, ...mentions: string[]) {
  return (error: unknown) => {
    assert.ok(error instanceof MeshauthClientError, `expected a MeshauthClientError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const text of mentions)
      assert.ok(error.message.includes(text), `"${error.message}" lacks "${text}"`);
    return true;
  };
}

function opensslKey(dir: string, ...options: string[]): string {
  const file = join(ROOT, `openssl-${++counter}.pem`);
  execFileSync("openssl", [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    ...options,
    "-out",
    file,
  ]);
  const pem = execFileSync("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", file], { encoding: "utf8" });
  writeKeyFile(dir, pem);
  return file;
}

function writeKeyFile(dir: string, pem: string): string {
  const file = join(dir, "device-key.pem");
  writeFileSync(file, pem, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

async function opensslPublicThumbprint(file: string): Promise<string> {
  const spki = execFileSync("openssl", ["pkey", "-in", file, "-pubout", "-outform", "DER"]);
  const key = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, true, [
    "verify",
  ]);
  return thumbprint(key);
}

describe("fileStore: files", () => {
  test("the directory is made 0700 on first write, every file 0600, no temporary files left", async () => {
    const dir = join(newDir(), "nested", "app");
    const store = fileStore(dir);
    assert.equal(await store.loadSession(), undefined);
    assert.equal(existsSync(dir), false, "reading creates nothing");

    await store.createKey();
    await store.saveSession(session);
    await store.saveCertificate(certificate);
    await store.savePendingRevocations(["rt-1"]);

    assert.equal(mode(dir), 0o700);
    assert.deepEqual(readdirSync(dir).sort(), [
      "certificate.json",
      "device-key.pem",
      "pending-revocations.json",
      "session.json",
    ]);
    for (const name of readdirSync(dir)) assert.equal(mode(join(dir, name)), 0o600, name);
  });

  test("a relative directory is resolved", async () => {
    const dir = newDir();
    const store = fileStore(relative(process.cwd(), dir));
    assert.equal(store.dir, dir);
    await store.saveSession(session);
    assert.ok(existsSync(join(dir, "session.json")));
  });

  test("session, certificate and pending revocations round trip; missing ones are empty", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    assert.equal(await store.loadSession(), undefined);
    assert.equal(await store.loadCertificate(), undefined);
    assert.deepEqual(await store.loadPendingRevocations(), []);
    assert.equal(await store.loadKey(), undefined);
    await store.deleteSession();
    await store.deleteCertificate();
    await store.deleteKey();

    await store.saveSession(session);
    await store.saveCertificate(certificate);
    await store.savePendingRevocations(["rt-1", "rt-2"]);

    const reopened = fileStore(dir);
    assert.deepEqual(await reopened.loadSession(), session);
    assert.deepEqual(await reopened.loadCertificate(), certificate);
    assert.deepEqual(await reopened.loadPendingRevocations(), ["rt-1", "rt-2"]);

    await reopened.savePendingRevocations([]);
    assert.deepEqual(await store.loadPendingRevocations(), []);
    await reopened.deleteSession();
    await reopened.deleteCertificate();
    assert.equal(await store.loadSession(), undefined);
    assert.equal(await store.loadCertificate(), undefined);
  });

  test("a session without refreshTokenExpiresAt round trips", async () => {
    const store = fileStore(newDir());
    const noExpiry = { ...session, refreshTokenExpiresAt: undefined };
    await store.saveSession(noExpiry);
    const loaded = await store.loadSession();
    assert.equal(loaded?.refreshTokenExpiresAt, undefined);
    assert.equal(loaded?.refreshToken, session.refreshToken);
  });
});

describe("fileStore: device key", () => {
  test("the key survives reopening; the private key is non-extractable yet signs", async () => {
    const dir = newDir();
    const created = await fileStore(dir).createKey();
    assert.equal(created.privateKey.extractable, false);
    assert.equal(created.publicKey.extractable, true);

    const loaded = await fileStore(dir).loadKey();
    assert.ok(loaded);
    assert.equal(await thumbprint(loaded.publicKey), await thumbprint(created.publicKey));
    assert.equal(loaded.privateKey.extractable, false);
    assert.equal(loaded.publicKey.extractable, true);
    await assert.rejects(crypto.subtle.exportKey("pkcs8", loaded.privateKey));
    await assert.rejects(crypto.subtle.exportKey("jwk", loaded.privateKey));

    const data = new TextEncoder().encode("proof");
    const algorithm = { name: "ECDSA", hash: "SHA-256" };
    const signature = await crypto.subtle.sign(algorithm, loaded.privateKey, data);
    assert.ok(await crypto.subtle.verify(algorithm, created.publicKey, signature, data));
    const signature2 = await crypto.subtle.sign(algorithm, created.privateKey, data);
    assert.ok(await crypto.subtle.verify(algorithm, loaded.publicKey, signature2, data));
  });

  test("createKey replaces the key; deleteKey removes it", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    const first = await store.createKey();
    const second = await store.createKey();
    assert.notEqual(await thumbprint(first.publicKey), await thumbprint(second.publicKey));
    const loaded = await store.loadKey();
    assert.equal(await thumbprint(loaded!.publicKey), await thumbprint(second.publicKey));
    assert.ok(!readdirSync(dir).some((name) => name.includes("corrupt")), "a valid key is not kept aside");
    await store.deleteKey();
    assert.equal(await store.loadKey(), undefined);
    await assert.rejects(store.exportPrivateKeyPem(), isStoreError("not_found", "device-key.pem"));
  });

  test("exportPrivateKeyPem is the key file, PKCS#8 PEM that openssl reads", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    const keys = await store.createKey();
    const pem = await store.exportPrivateKeyPem();
    assert.ok(pem.startsWith("-----BEGIN PRIVATE KEY-----\n"));
    const file = join(dir, "device-key.pem");
    assert.equal(pem, readFileSync(file, "utf8"));
    execFileSync("openssl", ["pkey", "-in", file, "-noout"]);
    assert.equal(await opensslPublicThumbprint(file), await thumbprint(keys.publicKey));
  });

  test("a key made by openssl loads, with named or explicit curve parameters", async () => {
    for (const options of [[], ["-pkeyopt", "ec_param_enc:explicit"]]) {
      const dir = newDir();
      const store = fileStore(dir);
      await store.saveSession(session); // makes the directory
      const source = opensslKey(dir, ...options);
      const keys = await store.loadKey();
      assert.ok(keys, options.join(" "));
      assert.equal(keys.privateKey.extractable, false);
      assert.equal(await thumbprint(keys.publicKey), await opensslPublicThumbprint(source));
      assert.equal(await store.exportPrivateKeyPem(), readFileSync(join(dir, "device-key.pem"), "utf8"));
    }
  });

  test("a key file that is not a PKCS#8 P-256 key is store_corrupted; the rest still loads", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    await store.saveSession(session);
    await store.saveCertificate(certificate);
    const file = join(dir, "device-key.pem");
    const sec1 = execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout"], {
      encoding: "utf8",
    });
    const p384 = execFileSync(
      "openssl",
      ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
      {
        encoding: "utf8",
      },
    );
    const rsa = execFileSync(
      "openssl",
      ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
      {
        encoding: "utf8",
      },
    );
    const other = fileStore(newDir());
    await other.createKey();
    const valid = await other.exportPrivateKeyPem();
    const cases: [string, string, string?][] = [
      ["garbage", "not a key at all"],
      ["empty", ""],
      ["bad base64", "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n"],
      ["truncated", `${valid.slice(0, 100)}\n-----END PRIVATE KEY-----\n`],
      ["cut off", valid.slice(0, 100)],
      ["SEC 1", sec1, "openssl pkcs8 -topk8"],
      ["P-384", p384],
      ["RSA", rsa],
    ];
    for (const [label, content, hint] of cases) {
      writeKeyFile(dir, content);
      await assert.rejects(
        store.loadKey(),
        isStoreError("store_corrupted", file, "log in again", ...(hint ? [hint] : [])),
        label,
      );
      await assert.rejects(store.exportPrivateKeyPem(), isStoreError("store_corrupted", file), label);
      await assert.rejects(store.loadKey(), (error: MeshauthClientError) => error.details["path"] === file);
      assert.deepEqual(await store.loadSession(), session, label);
      assert.deepEqual(await store.loadCertificate(), certificate, label);
    }

    const corrupt = readFileSync(file);
    const keys = await store.createKey();
    assert.equal(await thumbprint((await store.loadKey())!.publicKey), await thumbprint(keys.publicKey));
    const kept = readdirSync(dir).filter((name) => name.startsWith("device-key.pem.corrupt-"));
    assert.equal(kept.length, 1);
    assert.deepEqual(readFileSync(join(dir, kept[0]!)), corrupt);
    assert.deepEqual(await store.loadSession(), session);
  });
});

describe("fileStore: corrupted files", () => {
  test("a corrupted session.json is store_corrupted naming it; saving over it keeps the old bytes", async () => {
    const valid = JSON.stringify(session);
    const cases: [string, string][] = [
      ["garbage", "\u0000\u0001 garbage"],
      ["wrong shape", JSON.stringify({ version: 1, accessToken: 42 })],
      ["another version", JSON.stringify({ ...session, version: 2 })],
      ["truncated", valid.slice(0, valid.length / 2)],
      ["empty", ""],
    ];
    for (const [label, content] of cases) {
      const dir = newDir();
      const store = fileStore(dir);
      const keys = await store.createKey();
      await store.saveCertificate(certificate);
      await store.savePendingRevocations(["rt-1"]);
      const file = join(dir, "session.json");
      writeFileSync(file, content, { mode: 0o600 });

      await assert.rejects(store.loadSession(), isStoreError("store_corrupted", file, "log in again"), label);
      await assert.rejects(
        store.loadSession(),
        (error: MeshauthClientError) => error.details["path"] === file,
      );
      // Nothing else is affected.
      assert.equal(await thumbprint((await store.loadKey())!.publicKey), await thumbprint(keys.publicKey));
      assert.deepEqual(await store.loadCertificate(), certificate);
      assert.deepEqual(await store.loadPendingRevocations(), ["rt-1"]);

      await store.saveSession(session);
      assert.deepEqual(await store.loadSession(), session, label);
      const kept = readdirSync(dir).filter((name) => name.startsWith("session.json.corrupt-"));
      assert.equal(kept.length, 1, label);
      assert.equal(readFileSync(join(dir, kept[0]!), "utf8"), content, label);
      assert.equal(mode(file), 0o600);
    }
  });

  test("corrupted certificate and pending revocations are store_corrupted and can be saved over", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    await store.saveSession(session);
    writeFileSync(join(dir, "certificate.json"), JSON.stringify({ certificate: 1 }), { mode: 0o600 });
    writeFileSync(join(dir, "pending-revocations.json"), JSON.stringify(["a", 2]), { mode: 0o600 });
    await assert.rejects(store.loadCertificate(), isStoreError("store_corrupted", "certificate.json"));
    await assert.rejects(
      store.loadPendingRevocations(),
      isStoreError("store_corrupted", "pending-revocations.json"),
    );
    assert.deepEqual(await store.loadSession(), session);

    await store.saveCertificate(certificate);
    await store.savePendingRevocations(["rt-9"]);
    assert.deepEqual(await store.loadCertificate(), certificate);
    assert.deepEqual(await store.loadPendingRevocations(), ["rt-9"]);
    let names = readdirSync(dir);
    assert.ok(names.some((name) => name.startsWith("certificate.json.corrupt-")));
    assert.equal(names.filter((name) => name.startsWith("pending-revocations.json.corrupt-")).length, 1);

    // Clearing the list over a corrupted file keeps that file too.
    writeFileSync(join(dir, "pending-revocations.json"), "{", { mode: 0o600 });
    await store.savePendingRevocations([]);
    assert.deepEqual(await store.loadPendingRevocations(), []);
    names = readdirSync(dir);
    assert.ok(!names.includes("pending-revocations.json"));
    assert.equal(names.filter((name) => name.startsWith("pending-revocations.json.corrupt-")).length, 2);
  });
});

describe("fileStore: insecure files", () => {
  test("a key or session file others may access is store_insecure with the chmod to fix it", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    const keys = await store.createKey();
    await store.saveSession(session);
    await store.savePendingRevocations(["rt-1"]);
    for (const [name, load] of [
      ["session.json", () => store.loadSession()],
      ["device-key.pem", () => store.loadKey()],
      ["device-key.pem", () => store.exportPrivateKeyPem()],
      ["pending-revocations.json", () => store.loadPendingRevocations()],
    ] as const) {
      const file = join(dir, name);
      for (const insecure of [0o644, 0o640, 0o604, 0o660]) {
        chmodSync(file, insecure);
        await assert.rejects(load(), isStoreError("store_insecure", file, `chmod 600 ${file}`));
      }
      chmodSync(file, 0o600);
      await load();
    }
    assert.equal(await thumbprint((await store.loadKey())!.publicKey), await thumbprint(keys.publicKey));
    // The certificate is public: its mode does not matter.
    await store.saveCertificate(certificate);
    chmodSync(join(dir, "certificate.json"), 0o644);
    assert.deepEqual(await store.loadCertificate(), certificate);
  });

  test("saving replaces an insecure session file with a private one", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    await store.saveSession(session);
    const file = join(dir, "session.json");
    chmodSync(file, 0o644);
    await store.saveSession({ ...session, accessToken: "new" });
    assert.equal(mode(file), 0o600);
    assert.equal((await store.loadSession())?.accessToken, "new");
  });

  test("a key or session file owned by another user is store_insecure", {
    skip: process.getuid?.() !== 0,
  }, async () => {
    const dir = newDir();
    const store = fileStore(dir);
    await store.createKey();
    await store.saveSession(session);
    for (const [name, load] of [
      ["session.json", () => store.loadSession()],
      ["device-key.pem", () => store.loadKey()],
    ] as const) {
      const file = join(dir, name);
      chownSync(file, 1, 1);
      await assert.rejects(load(), isStoreError("store_insecure", file, "another user", `chmod 600 ${file}`));
      chownSync(file, 0, 0);
      await load();
    }
  });
});

describe("fileStore: exclusive", () => {
  test("two store instances on one directory run their critical sections one at a time", async () => {
    const dir = newDir();
    const a = fileStore(dir);
    const b = fileStore(dir);
    const events: string[] = [];
    const section = (store: typeof a, id: string) =>
      store.exclusive("refresh", async () => {
        events.push(`enter ${id}`);
        await new Promise((done) => setTimeout(done, 20));
        events.push(`exit ${id}`);
        return id;
      });
    const results = await Promise.all([
      section(a, "a1"),
      section(b, "b1"),
      section(a, "a2"),
      section(b, "b2"),
    ]);
    assert.deepEqual(results, ["a1", "b1", "a2", "b2"]);
    assert.equal(events.length, 8);
    for (let i = 0; i < events.length; i += 2) {
      const id = events[i]!.slice("enter ".length);
      assert.deepEqual(events.slice(i, i + 2), [`enter ${id}`, `exit ${id}`], events.join(", "));
    }
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.includes("lock")),
      [],
    );
  });

  test("different lock names do not wait for each other", async () => {
    const store = fileStore(newDir());
    const events: string[] = [];
    let entered!: () => void;
    const inside = new Promise<void>((done) => {
      entered = done;
    });
    let release!: () => void;
    const released = new Promise<void>((done) => {
      release = done;
    });
    const held = store.exclusive("one", async () => {
      events.push("one");
      entered();
      await released;
      events.push("one done");
    });
    await inside;
    await store.exclusive("two", async () => {
      events.push("two");
    });
    release();
    await held;
    assert.deepEqual(events, ["one", "two", "one done"]);
  });

  test("processes take turns", async () => {
    const dir = newDir();
    const log = join(dir, "log.txt");
    const children = 3;
    const rounds = 3;
    const script = `
      const { appendFile, writeFile, readdir } = await import("node:fs/promises");
      const { join } = await import("node:path");
      const { fileStore } = await import(process.env.STORE_MODULE);
      const dir = process.env.STORE_DIR, id = process.env.CHILD_ID, log = join(dir, "log.txt");
      const store = fileStore(dir);
      await store.saveCertificate(${JSON.stringify(certificate)});
      await writeFile(join(dir, "ready-" + id), "");
      while ((await readdir(dir)).filter((n) => n.startsWith("ready-")).length < ${children}) {
        await new Promise((done) => setTimeout(done, 10));
      }
      for (let i = 0; i < ${rounds}; i++) {
        await store.exclusive("refresh", async () => {
          await appendFile(log, "enter " + id + "\\n");
          await new Promise((done) => setTimeout(done, 40));
          await appendFile(log, "exit " + id + "\\n");
        });
      }
    `;
    await Promise.all(
      Array.from({ length: children }, (_, i) =>
        run(
          process.execPath,
          ["--conditions=development", "--import", "tsx", "--input-type=module", "-e", script],
          { env: { ...process.env, STORE_MODULE, STORE_DIR: dir, CHILD_ID: String(i) } },
        ),
      ),
    );
    const lines = readFileSync(log, "utf8").trim().split("\n");
    assert.equal(lines.length, children * rounds * 2);
    for (let i = 0; i < lines.length; i += 2) {
      const id = lines[i]!.slice("enter ".length);
      assert.deepEqual(lines.slice(i, i + 2), [`enter ${id}`, `exit ${id}`], lines.join(", "));
    }
    assert.ok(!existsSync(join(dir, "refresh.lock")));
  });

  test("a lock left by a process that is gone is broken", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    await store.saveSession(session);
    const { stdout } = await run(process.execPath, ["-e", "console.log(process.pid)"]);
    const deadPid = Number(stdout.trim());
    for (const pid of [deadPid, 999_999_999]) {
      writeFileSync(join(dir, "refresh.lock"), JSON.stringify({ pid, time: Date.now() }), { mode: 0o600 });
      const started = Date.now();
      assert.equal(await store.exclusive("refresh", async () => "ran"), "ran");
      assert.ok(Date.now() - started < 2000);
      assert.ok(!existsSync(join(dir, "refresh.lock")));
    }
  });

  test("a lock not refreshed for 30 s is broken even if its pid is alive", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    await store.saveSession(session);
    const file = join(dir, "refresh.lock");
    writeFileSync(file, JSON.stringify({ pid: process.pid, time: Date.now() - 60_000 }), { mode: 0o600 });
    const old = new Date(Date.now() - 60_000);
    utimesSync(file, old, old);
    assert.equal(await store.exclusive("refresh", async () => "ran"), "ran");
    assert.ok(!existsSync(file));
  });

  test("a fresh lock of a live process is waited for", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    await store.saveSession(session);
    const file = join(dir, "refresh.lock");
    writeFileSync(file, JSON.stringify({ pid: process.pid, time: Date.now(), token: "someone" }), {
      mode: 0o600,
    });
    let ran = false;
    const waiting = store.exclusive("refresh", async () => {
      ran = true;
    });
    await new Promise((done) => setTimeout(done, 300));
    assert.equal(ran, false);
    assert.ok(existsSync(file));
    rmSync(file);
    await waiting;
    assert.equal(ran, true);
  });

  test("the lock is removed when fn throws, and the error reaches the caller", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    await assert.rejects(
      store.exclusive("refresh", async () => {
        assert.ok(existsSync(join(dir, "refresh.lock")));
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.ok(!existsSync(join(dir, "refresh.lock")));
    assert.equal(await store.exclusive("refresh", async () => 1), 1);
  });

  test("lock names are sanitized to a file in the directory", async () => {
    assert.equal(lockName("session refresh"), "session_refresh");
    assert.equal(lockName("../../etc/passwd"), "__.._etc_passwd");
    assert.equal(lockName(""), "_");
    assert.equal(lockName("a".repeat(500)).length, 100);
    const dir = newDir();
    const store = fileStore(dir);
    const seen = await store.exclusive("../escape/x", async () => readdirSync(dir));
    assert.deepEqual(seen, ["__escape_x.lock"]);
    assert.ok(!existsSync(join(dir, "..", "escape")));
  });
});

describe("fileStore: watch", () => {
  test("reports session changes made by another store, not its own", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    const other = fileStore(dir);
    let changes = 0;
    const stop = store.watch(() => {
      changes++;
    });
    const settle = () => new Promise((done) => setTimeout(done, 250));
    await store.saveSession(session);
    await settle();
    assert.equal(changes, 0, "own write");

    await other.saveSession({ ...session, accessToken: "from another process" });
    await settle();
    assert.equal(changes, 1);
    await other.saveCertificate(certificate);
    await settle();
    assert.equal(changes, 1, "other files do not count");
    await other.deleteSession();
    await settle();
    assert.equal(changes, 2);

    stop();
    await other.saveSession(session);
    await settle();
    assert.equal(changes, 2, "after unsubscribing");
    await store.close();
  });

  /** Counts `store.watch` calls; `settle` waits past the debounce and the check. */
  function counted(store: ReturnType<typeof fileStore>): { readonly changes: number; stop(): void } {
    let changes = 0;
    const stop = store.watch(() => {
      changes++;
    });
    return {
      get changes() {
        return changes;
      },
      stop,
    };
  }
  const settle = () => new Promise((done) => setTimeout(done, 250));

  test("the store's own saves, deletes and repairs never fire its own watchers", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    const other = fileStore(dir);
    const first = counted(store);
    const second = counted(store);

    await store.saveSession(session);
    await settle();
    await store.saveSession({ ...session, accessToken: "refreshed" });
    await settle();
    await store.deleteSession();
    await settle();
    await store.deleteSession(); // nothing left to delete
    await settle();
    // Several changes in one debounce window, and changes running side by side.
    await store.saveSession(session);
    await store.deleteSession();
    await store.saveSession({ ...session, accessToken: "again" });
    await Promise.all([store.saveSession(session), store.saveSession({ ...session, accessToken: "other" })]);
    await settle();
    assert.equal(first.changes, 0);
    assert.equal(second.changes, 0);

    // Another store leaves a corrupted file (reported); saving over it is this store's own change.
    await other.saveSession(session);
    await settle();
    writeFileSync(join(dir, "session.json"), "garbage", { mode: 0o600 });
    await settle();
    assert.equal(first.changes, 2);
    await store.saveSession(session);
    await settle();
    assert.equal(first.changes, 2, "repairing a corrupted file");
    assert.equal(second.changes, 2);
    assert.ok(readdirSync(dir).some((name) => name.startsWith("session.json.corrupt-")));
    await store.close();
  });

  test("a logout by another process is reported after this store deleted the session itself", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    const other = fileStore(dir); // another process, as far as `store` can tell
    const watch = counted(store);

    await store.saveSession(session);
    await settle();
    await store.deleteSession();
    await settle();
    await store.saveSession(session);
    await settle();
    assert.equal(watch.changes, 0);
    await other.deleteSession();
    await settle();
    assert.equal(watch.changes, 1, "the other store's delete");
    assert.equal(await store.loadSession(), undefined);

    // The same without waiting: this store's own changes and the other's delete in one window.
    await store.saveSession(session);
    await store.deleteSession();
    await store.saveSession(session);
    await other.deleteSession();
    await settle();
    assert.equal(watch.changes, 2);
    assert.equal(await store.loadSession(), undefined);
    await store.close();
  });

  test("a quick delete, save and delete by another process is reported after its last change", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    const other = fileStore(dir);
    const watch = counted(store);
    await store.saveSession(session);
    await settle();

    await other.deleteSession();
    await other.saveSession({ ...session, accessToken: "from another process" });
    await other.deleteSession();
    const beforeLast = watch.changes;
    await settle();
    assert.ok(watch.changes > beforeLast, "a call after the last change");
    assert.equal(await store.loadSession(), undefined);

    await other.saveSession({ ...session, accessToken: "from another process" });
    await other.deleteSession();
    await other.saveSession({ ...session, accessToken: "last" });
    const beforeSave = watch.changes;
    await settle();
    assert.ok(watch.changes > beforeSave);
    assert.equal((await store.loadSession())?.accessToken, "last");
    await store.close();
  });

  test("a session written and deleted again before the watcher looks is still reported", async () => {
    const dir = newDir();
    const store = fileStore(dir);
    const watch = counted(store);
    await settle();
    // Synchronously, so that the watcher cannot look in between: it finds no session, as before.
    const file = join(dir, "session.json");
    writeFileSync(file, JSON.stringify(session), { mode: 0o600 });
    rmSync(file);
    await settle();
    assert.equal(watch.changes, 1);
    assert.equal(await store.loadSession(), undefined);
    watch.stop();
    await store.close();
  });
});
