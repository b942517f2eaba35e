import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { CertificateError, loadSharedKey, verifyPeerCertificate } from "@meshauth/core";
import { cli, type Run, run } from "./helpers/cli.js";
import { cleanup, tempDir } from "./helpers/engines.js";

after(cleanup);

const sh = (script: string): Promise<Run> => run("sh", ["-c", script]);

function assertOneLineError(r: Run, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `expected a failure, got stdout ${r.stdout}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0] ?? "", /^meshauth: /);
  assert.match(lines[0] ?? "", pattern);
}

describe("meshauth shared-key / cert (offline)", () => {
  const dir = tempDir();
  let sharedKey = "";
  let otherKey = "";

  test("shared-key generate prints only the key on stdout and a warning on stderr", async () => {
    const r = await cli(["shared-key", "generate"]);
    assert.equal(r.code, 0, r.stderr);
    sharedKey = r.stdout.trim();
    assert.match(sharedKey, /^[A-Za-z0-9+/]+=*$/);
    assert.equal(r.stdout, `${sharedKey}\n`);
    assert.match(r.stderr, /secret/);
    await loadSharedKey(sharedKey);

    const json = await cli(["shared-key", "generate", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    otherKey = (JSON.parse(json.stdout) as { shared_key: string }).shared_key;
    assert.notEqual(otherKey, sharedKey);
  });

  test("cert issue: two devices, openssl verify with the root, key files 0600", async () => {
    for (const name of ["a", "b"]) {
      const r = await cli([
        "cert",
        "issue",
        "--shared-key",
        sharedKey,
        "--app-id",
        "app-1",
        "--out",
        join(dir, name),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`${join(dir, name)}\\.crt\\.pem`));
      assert.match(r.stdout, /app +app-1/);
      assert.equal(statSync(join(dir, `${name}.key.pem`)).mode & 0o777, 0o600);
      const v = await sh(`openssl verify -CAfile ${dir}/${name}.root.pem ${dir}/${name}.crt.pem`);
      assert.equal(v.code, 0, v.stdout + v.stderr);
    }
    // Any device's root verifies every device of the same shared key.
    const cross = await sh(`openssl verify -CAfile ${dir}/a.root.pem ${dir}/b.crt.pem`);
    assert.equal(cross.code, 0, cross.stdout + cross.stderr);

    // The shared key from a file (@file) and JSON output.
    writeFileSync(join(dir, "shared.key"), `${otherKey}\n`);
    const other = await cli([
      "cert",
      "issue",
      "--shared-key",
      `@${join(dir, "shared.key")}`,
      "--app-id",
      "app-1",
      "--out",
      join(dir, "other"),
      "--json",
    ]);
    assert.equal(other.code, 0, other.stderr);
    const issued = JSON.parse(other.stdout) as { identity: { appId: string; provider: string } };
    assert.equal(issued.identity.appId, "app-1");
    assert.equal(issued.identity.provider, "shared-key");
    const refused = await sh(`openssl verify -CAfile ${dir}/a.root.pem ${dir}/other.crt.pem`);
    assert.notEqual(refused.code, 0, "a certificate of another shared key must not verify");
  });

  test("verifyPeerCertificate with the shared public key accepts ours, rejects the other key's", async () => {
    const { publicKey } = await loadSharedKey(sharedKey);
    const trust = { type: "shared-key" as const, publicKey };
    for (const name of ["a", "b"]) {
      const peer = await verifyPeerCertificate({
        chain: [readFileSync(join(dir, `${name}.crt.pem`), "utf8")],
        trust,
        appId: "app-1",
      });
      assert.equal(peer.identity.provider, "shared-key");
      assert.equal(peer.identity.appId, "app-1");
    }
    await assert.rejects(
      verifyPeerCertificate({
        chain: [readFileSync(join(dir, "other.crt.pem"), "utf8")],
        trust,
        appId: "app-1",
      }),
      CertificateError,
    );
  });

  test("an openssl-made shared key works, and --device-key certifies an existing key", async () => {
    const made = await sh(
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkcs8 -topk8 -nocrypt -outform der | base64 -w 0",
    );
    assert.equal(made.code, 0, made.stderr);
    const r = await cli([
      "cert",
      "issue",
      "--shared-key",
      made.stdout.trim(),
      "--app-id",
      "app-2",
      "--out",
      join(dir, "ossl"),
      "--validity-days",
      "7",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const v = await sh(`openssl verify -CAfile ${dir}/ossl.root.pem ${dir}/ossl.crt.pem`);
    assert.equal(v.code, 0, v.stdout + v.stderr);

    const again = await cli([
      "cert",
      "issue",
      "--shared-key",
      made.stdout.trim(),
      "--app-id",
      "app-2",
      "--out",
      join(dir, "ossl2"),
      "--device-key",
      join(dir, "ossl.key.pem"),
      "--json",
    ]);
    assert.equal(again.code, 0, again.stderr);
    const first = readFileSync(join(dir, "ossl.crt.pem"), "utf8");
    const second = readFileSync(join(dir, "ossl2.crt.pem"), "utf8");
    const key = (pem: string) => sh(`printf '%s' '${pem}' | openssl x509 -noout -pubkey`);
    assert.equal((await key(first)).stdout, (await key(second)).stdout);
    assert.throws(() => statSync(join(dir, "ossl2.key.pem")), /ENOENT/);
  });

  test("cert inspect says what the certificate is in plain words, or as JSON", async () => {
    const r = await cli(["cert", "inspect", join(dir, "a.crt.pem")]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /signed by a shared key/);
    assert.match(r.stdout, /app: +app-1/);
    assert.match(r.stdout, /provider: +shared-key/);
    assert.match(r.stdout, /write: every collection/);

    const root = await cli(["cert", "inspect", join(dir, "a.root.pem"), "--json"]);
    assert.equal(root.code, 0, root.stderr);
    assert.equal((JSON.parse(root.stdout) as { kind: string }).kind, "shared-key-root");
  });

  test("bad inputs exit non-zero with one line on stderr", async () => {
    assertOneLineError(
      await cli(["cert", "issue", "--shared-key", "not base64!", "--app-id", "x", "--out", join(dir, "x")]),
      /shared key is not base64/,
    );
    const rsa = await sh(
      "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 | openssl pkcs8 -topk8 -nocrypt -outform der | base64 -w 0",
    );
    assertOneLineError(
      await cli([
        "cert",
        "issue",
        "--shared-key",
        rsa.stdout.trim(),
        "--app-id",
        "x",
        "--out",
        join(dir, "x"),
      ]),
      /invalid --shared-key: .*RSA/i,
    );
    assertOneLineError(
      await cli(["cert", "issue", "--shared-key", `@${join(dir, "missing.key")}`, "--app-id", "x"]),
      /does not exist/,
    );
    assertOneLineError(
      await cli(["cert", "issue", "--shared-key", sharedKey, "--app-id", "app-1", "--out", join(dir, "a")]),
      /already exists/,
    );
    assertOneLineError(
      await cli(["cert", "issue", "--shared-key", sharedKey, "--app-id", "app-1", "--validity-days", "0"]),
      /--validity-days/,
    );
    assertOneLineError(await cli(["cert", "inspect", join(dir, "nope.pem")]), /does not exist/);
    assertOneLineError(await cli(["cert", "inspect", join(dir, "a.key.pem")]), /not a certificate/);
    writeFileSync(join(dir, "junk.der"), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]));
    assertOneLineError(await cli(["cert", "inspect", join(dir, "junk.der")]), /not a certificate/);
  });
});
