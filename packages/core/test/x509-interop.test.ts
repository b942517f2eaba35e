// Device certificates, hub-issued and shared-key, read and used for mutual TLS 1.3 by the
// stacks peers run on besides Node: OpenSSL, GnuTLS, Go and Python `cryptography`.
// .ci/setup-tls-tools installs GnuTLS and Go; a test is skipped only when its tool is absent.
import assert from "node:assert/strict";
import { type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import {
  createCertificateAuthority,
  exportPrivateKeyPem,
  generateDeviceKey,
  generateSharedKey,
  IDENTITY_EXTENSION_OID,
  type Identity,
  issueDeviceCertificate,
  issueSharedKeyCertificate,
  keyThumbprint,
  loadCertificateAuthority,
  loadSharedKey,
  verifyPeerCertificate,
} from "@meshauth/core";
import { scratchDir } from "./x509-helpers.js";

const fixtures = new URL("./fixtures/", import.meta.url).pathname;

function has(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return !result.error && result.status === 0;
}

const haveGnutls = has("certtool", ["--version"]) && has("gnutls-cli", ["--version"]);
const haveGo = has("go", ["version"]);
const havePythonCryptography = has("python3", ["-c", "import cryptography.x509"]);
const skipGnutls = haveGnutls
  ? false
  : "GnuTLS (gnutls-bin) is not installed; .ci/setup-tls-tools installs it";
const skipGo = haveGo ? false : "Go (golang-go) is not installed; .ci/setup-tls-tools installs it";
const skipPython = havePythonCryptography ? false : "python3 with the cryptography package is not installed";

/** A user ID longer than a CN may be, with characters that need percent-encoding. */
const LONG_USER = `user/${"x".repeat(80)} ä:é`;

interface Device {
  name: string;
  certPath: string;
  keyPath: string;
  uri: string;
  userId: string;
}

interface Kind {
  label: string;
  anchorPath: string;
  server: Device;
  client: Device;
  verify(pem: string): Promise<Identity>;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Run {
  const result: SpawnSyncReturns<string> = spawnSync(command, args, {
    encoding: "utf8",
    timeout: 60_000,
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Starts a TLS server process; resolves once it printed `ready`, ends with its output. */
function serve(command: string, args: string[], ready: RegExp) {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  const done = new Promise<string>((resolve) => child.on("close", () => resolve(output)));
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start: ${output}`)), 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
  });
  return { started, done, stop: () => child.kill() };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

const encodedUri = (appId: string, userId: string, peerKey: string) =>
  `meshauth:device:${encodeURIComponent(appId)}:${encodeURIComponent(userId)}:${encodeURIComponent(peerKey)}`;

describe("device certificates on other TLS stacks", () => {
  const scratch = scratchDir();
  const kinds: Kind[] = [];

  before(async () => {
    const ca = await loadCertificateAuthority(await createCertificateAuthority({ appId: "app-1" }));
    const caPath = scratch.write("ca.pem", ca.certificatePem);
    const hub = async (name: string, userId: string): Promise<Device> => {
      const keys = await generateDeviceKey();
      const peerKey = await keyThumbprint(keys.publicKey);
      const issued = await issueDeviceCertificate({
        ca,
        publicKey: keys.publicKey,
        sessionId: `session-${name}`,
        identity: {
          appId: "app-1",
          userId,
          peerKey,
          provider: "webhook:main",
          permissions: {
            read: { everything: false, queriesByCollection: { cars: ["_id.owner == 'u1'"] } },
            write: { everything: false, queriesByCollection: {} },
          },
          exp: Math.floor(Date.now() / 1000) + 3600,
        },
      });
      return {
        name,
        certPath: scratch.write(`${name}.pem`, issued.certificatePem),
        keyPath: scratch.write(`${name}.key`, await exportPrivateKeyPem(keys.privateKey)),
        uri: encodedUri("app-1", userId, peerKey),
        userId,
      };
    };
    kinds.push({
      label: "hub-issued",
      anchorPath: caPath,
      server: await hub("hub-server", "alice"),
      client: await hub("hub-client", LONG_USER),
      verify: async (pem) =>
        (
          await verifyPeerCertificate({
            chain: [pem],
            trust: { type: "ca", certificatePem: ca.certificatePem },
            appId: "app-1",
          })
        ).identity,
    });

    const sharedKey = await loadSharedKey(await generateSharedKey());
    let rootPem = "";
    const shared = async (name: string, deviceId?: string): Promise<Device> => {
      const keys = await generateDeviceKey();
      const peerKey = await keyThumbprint(keys.publicKey);
      const issued = await issueSharedKeyCertificate({
        sharedKey,
        appId: "app-1",
        devicePublicKey: keys.publicKey,
        ...(deviceId ? { deviceId } : {}),
      });
      rootPem = issued.caCertificatePem;
      return {
        name,
        certPath: scratch.write(`${name}.pem`, issued.certificatePem),
        keyPath: scratch.write(`${name}.key`, await exportPrivateKeyPem(keys.privateKey)),
        uri: encodedUri("app-1", deviceId ?? peerKey, peerKey),
        userId: deviceId ?? peerKey,
      };
    };
    const server = await shared("shared-server");
    const client = await shared("shared-client", LONG_USER);
    kinds.push({
      label: "shared-key",
      anchorPath: scratch.write("shared-root.pem", rootPem),
      server,
      client,
      verify: async (pem) =>
        (
          await verifyPeerCertificate({
            chain: [pem],
            trust: { type: "shared-key", publicKey: sharedKey.publicKey },
            appId: "app-1",
          })
        ).identity,
    });
  });

  const each = (fn: (kind: Kind) => Promise<void> | void) => async () => {
    assert.equal(kinds.length, 2);
    for (const kind of kinds) await fn(kind);
  };

  test(
    "names follow RFC 5280: a URI without a host, a CN within 64 bytes, the full user ID kept",
    each(async (kind) => {
      const pem = run("openssl", ["x509", "-in", kind.client.certPath]).stdout;
      const identity = await kind.verify(pem);
      assert.equal(identity.userId, LONG_USER, `${kind.label}: the identity keeps the whole user ID`);
      const text = run("openssl", [
        "x509",
        "-in",
        kind.client.certPath,
        "-noout",
        "-text",
        "-nameopt",
        "utf8",
      ]);
      assert.ok(text.stdout.includes(`URI:${kind.client.uri}`), `${kind.label}: ${text.stdout}`);
      const cn = /Subject: CN ?= ?(.*)/.exec(text.stdout)?.[1] ?? "";
      assert.ok(Buffer.byteLength(cn) <= 64, `${kind.label}: CN ${cn} is longer than 64 bytes`);
      assert.ok(cn.startsWith("user/xxx") && cn.endsWith("..."), cn);
    }),
  );

  test(
    "OpenSSL: verify -x509_strict for both TLS purposes, and s_server/s_client mutual TLS 1.3",
    each(async (kind) => {
      for (const device of [kind.server, kind.client]) {
        for (const purpose of ["sslclient", "sslserver"]) {
          const verified = run("openssl", [
            "verify",
            "-x509_strict",
            "-purpose",
            purpose,
            "-CAfile",
            kind.anchorPath,
            device.certPath,
          ]);
          assert.equal(verified.status, 0, `${kind.label} ${device.name} ${purpose}: ${verified.stderr}`);
        }
      }
      const port = await freePort();
      const server = serve(
        "openssl",
        [
          "s_server",
          "-accept",
          String(port),
          "-cert",
          kind.server.certPath,
          "-key",
          kind.server.keyPath,
          "-CAfile",
          kind.anchorPath,
          "-Verify",
          "1",
          "-verify_return_error",
          "-x509_strict",
          "-tls1_3",
          "-naccept",
          "1",
        ],
        /ACCEPT/,
      );
      await server.started;
      const client = run("bash", [
        "-c",
        'sleep 1 | openssl s_client -connect "127.0.0.1:$0" -cert "$1" -key "$2" -CAfile "$3" -verify_return_error -x509_strict -tls1_3',
        String(port),
        kind.client.certPath,
        kind.client.keyPath,
        kind.anchorPath,
      ]);
      const served = await server.done;
      assert.equal(client.status, 0, `${kind.label}: ${client.stderr}`);
      assert.match(client.stdout, /Protocol *: TLSv1\.3/);
      assert.match(
        client.stdout,
        /Verify return code: 0 \(ok\)/,
        `${kind.label}: the client verified the server`,
      );
      assert.match(served, /depth=0 CN ?= ?user\/xxx[^\n]*\nverify return:1/, `${kind.label}: ${served}`);
      assert.match(served, /Client certificate/, "the server verified the client's certificate");
      assert.doesNotMatch(served, /verify error/);
    }),
  );

  test(
    "GnuTLS: certtool parses and verifies, gnutls-serv/gnutls-cli mutual TLS 1.3",
    { skip: skipGnutls },
    each(async (kind) => {
      for (const device of [kind.server, kind.client]) {
        const info = run("certtool", ["-i", "--infile", device.certPath]);
        assert.equal(info.status, 0, `${kind.label} ${device.name}: ${info.stderr}`);
        assert.doesNotMatch(info.stdout + info.stderr, /error/i);
        assert.ok(info.stdout.includes(`URI: ${device.uri}`), info.stdout);
        assert.ok(info.stdout.includes(`Unknown extension ${IDENTITY_EXTENSION_OID}`), info.stdout);
        for (const purpose of ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]) {
          const verified = run("certtool", [
            "--verify",
            "--load-ca-certificate",
            kind.anchorPath,
            "--verify-purpose",
            purpose,
            "--infile",
            device.certPath,
          ]);
          assert.equal(
            verified.status,
            0,
            `${kind.label} ${device.name}: ${verified.stdout}${verified.stderr}`,
          );
          assert.match(verified.stdout, /Chain verification output: Verified\. The certificate is trusted\./);
        }
      }
      const port = await freePort();
      const priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3";
      const server = serve(
        "gnutls-serv",
        [
          "--port",
          String(port),
          "--echo",
          "--x509certfile",
          kind.server.certPath,
          "--x509keyfile",
          kind.server.keyPath,
          "--x509cafile",
          kind.anchorPath,
          "--require-client-cert",
          "--verify-client-cert",
          "--priority",
          priority,
        ],
        /listening/,
      );
      try {
        await server.started;
        // Peers have no host names, and gnutls-cli always checks one: --insecure lets the
        // handshake go on, and the test asserts the name is the only thing it objected to.
        const client = run("bash", [
          "-c",
          '(echo ping; sleep 1) | gnutls-cli --port "$0" 127.0.0.1 --insecure --x509cafile "$1" --x509certfile "$2" --x509keyfile "$3" --priority "$4"',
          String(port),
          kind.anchorPath,
          kind.client.certPath,
          kind.client.keyPath,
          priority,
        ]);
        assert.equal(client.status, 0, `${kind.label}: ${client.stdout}${client.stderr}`);
        assert.match(client.stdout, /Handshake was completed/);
        assert.match(client.stdout, /\(TLS1\.3-X\.509\)/);
        assert.match(
          client.stdout,
          /Status: The certificate is NOT trusted\. The name in the certificate does not match the expected\. *\n/,
          `${kind.label}: the server chain is trusted apart from the host name`,
        );
        assert.match(client.stdout, /^ping$/m, "the echo server answered");
      } finally {
        server.stop();
      }
      const served = await server.done;
      assert.match(served, /Status: The certificate is trusted\./, `${kind.label}: ${served}`);
    }),
  );

  test(
    "Go: crypto/x509 parses and verifies, crypto/tls mutual TLS 1.3",
    { skip: skipGo },
    each(async (kind) => {
      const binary = buildGoProgram(scratch.dir);
      const result = run(binary, [
        kind.anchorPath,
        kind.server.certPath,
        kind.server.keyPath,
        kind.client.certPath,
        kind.client.keyPath,
      ]);
      assert.equal(result.status, 0, `${kind.label}: ${result.stderr}`);
      const out = JSON.parse(result.stdout) as {
        server: { uris: string[]; identityLength: number; verified: string };
        client: { uris: string[]; identityLength: number; verified: string; commonName: string };
        handshake: string;
        version: string;
        serverSawUri: string;
        clientSawUri: string;
        echo: string;
      };
      assert.deepEqual(out.server.uris, [kind.server.uri]);
      assert.deepEqual(out.client.uris, [kind.client.uri]);
      assert.ok(
        out.server.identityLength > 0 && out.client.identityLength > 0,
        "Go sees the identity extension",
      );
      assert.equal(out.server.verified, "ok");
      assert.equal(out.client.verified, "ok");
      assert.equal(out.handshake, "ok");
      assert.equal(out.version, "TLS 1.3");
      assert.equal(out.serverSawUri, kind.client.uri);
      assert.equal(out.clientSawUri, kind.server.uri);
      assert.equal(out.echo, "ping");
    }),
  );

  test(
    "Python cryptography: parses, finds the identity extension, checks the signature",
    { skip: skipPython },
    each(async (kind) => {
      const result = run("python3", [
        join(fixtures, "x509-read.py"),
        kind.anchorPath,
        kind.server.certPath,
        kind.client.certPath,
      ]);
      assert.equal(result.status, 0, `${kind.label}: ${result.stderr}`);
      assert.equal(result.stderr, "", "no warnings (a CN over 64 bytes draws one)");
      const [server, client] = result.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)) as Array<{
        uris: string[];
        identityLength: number;
      }>;
      assert.deepEqual(server?.uris, [kind.server.uri]);
      assert.deepEqual(client?.uris, [kind.client.uri]);
      assert.ok((client?.identityLength ?? 0) > 0);
    }),
  );
});

let goBinary: string | undefined;

/** Builds the Go program once, offline: standard library only, no module downloads. */
function buildGoProgram(dir: string): string {
  if (goBinary) return goBinary;
  const source = join(dir, "go-interop");
  mkdirSync(source, { recursive: true });
  copyFileSync(join(fixtures, "tls-interop.go"), join(source, "main.go"));
  writeFileSync(join(source, "go.mod"), "module tlsinterop\n\ngo 1.19\n");
  const binary = join(source, "tls-interop");
  const built = spawnSync("go", ["build", "-o", binary, "."], {
    cwd: source,
    encoding: "utf8",
    timeout: 300_000,
    env: { ...process.env, GOFLAGS: "-mod=mod", GOPROXY: "off", GOTOOLCHAIN: "local", GO111MODULE: "on" },
  });
  if (built.error) throw built.error;
  assert.equal(built.status, 0, `go build failed: ${built.stderr}`);
  goBinary = binary;
  return binary;
}
