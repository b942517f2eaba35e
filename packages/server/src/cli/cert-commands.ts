// Offline certificate commands: shared keys and device certificates made and read on this
// machine. None of them opens the hub database, so they work anywhere the CLI is installed.
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  CertificateError,
  createSharedKeyRootCertificate,
  describeCertificate,
  exportPrivateKeyPem,
  generateDeviceKey,
  generateSharedKey,
  inspectCertificate,
  issueSharedKeyCertificate,
  loadSharedKey,
} from "@meshauth/core";
import type { Command } from "commander";
import { output } from "./output.js";

const P256 = { name: "ECDSA", namedCurve: "P-256" } as const;

/** The server compiles without DOM types, so the WebCrypto key type comes from core. */
type PublicKey = Awaited<ReturnType<typeof generateDeviceKey>>["publicKey"];

function jsonMode(cmd: Command): boolean {
  return (cmd.optsWithGlobals() as { json?: unknown }).json === true;
}

function readFileOrFail(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new Error(`${what} ${path} does not exist`);
    if (code === "EISDIR") throw new Error(`${what} ${path} is a directory`);
    throw new Error(`cannot read ${what} ${path}: ${(error as Error).message.split("\n")[0]}`);
  }
}

/** `--shared-key` is the base64 text itself, or `@file` holding it (base64, PEM or raw DER). */
function sharedKeyText(value: string): string {
  if (!value.startsWith("@")) return value.trim();
  const path = value.slice(1);
  if (path === "") throw new Error("--shared-key @file needs a file name after @");
  const bytes = readFileOrFail(path, "shared key file");
  const text = bytes.toString("utf8").trim();
  // A DER file (first byte 0x30, SEQUENCE) is accepted as it is.
  if (bytes[0] === 0x30 && !/^[A-Za-z0-9+/=_\-\s]+$/.test(text)) return bytes.toString("base64");
  return text;
}

async function loadSharedKeyOption(value: string) {
  try {
    return await loadSharedKey(sharedKeyText(value));
  } catch (error) {
    if (error instanceof CertificateError) throw new Error(`invalid --shared-key: ${error.message}`);
    throw error;
  }
}

/** A device's P-256 private key from a PEM file (PKCS#8 `PRIVATE KEY` or SEC 1 `EC PRIVATE KEY`). */
async function loadDeviceKey(path: string): Promise<{ publicKey: PublicKey }> {
  const pem = readFileOrFail(path, "device key file").toString("utf8");
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw new Error(`--device-key ${path} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new Error(
      `--device-key ${path} is a ${key.asymmetricKeyType ?? "unknown"}${curve ? ` ${curve}` : ""} key; device keys are EC P-256`,
    );
  }
  const jwk = createPublicKey(key).export({ format: "jwk" });
  const publicKey = await globalThis.crypto.subtle.importKey("jwk", jwk, P256, true, ["verify"]);
  return { publicKey };
}

function positiveInt(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) === 0)
      throw new Error(`--${name} expects a positive whole number, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

export function registerCertCommands(program: Command): void {
  const sharedKey = program
    .command("shared-key")
    .description("shared keys for offline mode (every device signs its own certificate)");

  sharedKey
    .command("generate")
    .description("print a new shared key: base64 of a PKCS#8 DER P-256 private key (the Ditto format)")
    .action(async (_opts: unknown, cmd: Command) => {
      const key = await generateSharedKey();
      const out = output(jsonMode(cmd));
      process.stderr.write(
        "keep this key secret: anyone who has it can issue certificates every peer of the app accepts\n",
      );
      out.result({ shared_key: key, format: "base64 PKCS#8 DER, EC P-256" }, () => [key]);
    });

  const cert = program.command("cert").description("device certificates, offline");

  cert
    .command("issue")
    .description(
      "issue a device certificate signed by a shared key (offline, no hub); writes <prefix>.crt.pem, <prefix>.key.pem and <prefix>.root.pem",
    )
    .requiredOption("--shared-key <key>", "the shared key: base64 PKCS#8 DER, or @file holding it")
    .requiredOption("--app-id <id>", "the app the certificate is for")
    .option("--device-key <file>", "the device's P-256 private key (PEM); default: generate one")
    .option("--device-id <name>", "a name for the device (the identity's user); default its peer key")
    .option("--out <prefix>", "where to write the files", "device")
    .option("--validity-days <n>", "how long the certificate lasts", positiveInt("validity-days"), 30)
    .action(
      async (
        opts: {
          sharedKey: string;
          appId: string;
          deviceKey?: string;
          deviceId?: string;
          out: string;
          validityDays: number;
        },
        cmd: Command,
      ) => {
        const out = output(jsonMode(cmd));
        const key = await loadSharedKeyOption(opts.sharedKey);
        const prefix = resolve(opts.out);
        const paths = {
          certificate: `${prefix}.crt.pem`,
          key: `${prefix}.key.pem`,
          root: `${prefix}.root.pem`,
        };
        let devicePublicKey: PublicKey;
        let privateKeyPem: string | undefined;
        if (opts.deviceKey !== undefined) {
          devicePublicKey = (await loadDeviceKey(opts.deviceKey)).publicKey;
        } else {
          if (existsSync(paths.key))
            throw new Error(
              `${paths.key} already exists; pass --device-key ${paths.key} to certify it again, or another --out`,
            );
          const pair = await generateDeviceKey();
          devicePublicKey = pair.publicKey;
          privateKeyPem = await exportPrivateKeyPem(pair.privateKey);
        }
        const issued = await issueSharedKeyCertificate({
          sharedKey: key,
          appId: opts.appId,
          devicePublicKey,
          validityDays: opts.validityDays,
          ...(opts.deviceId === undefined ? {} : { deviceId: opts.deviceId }),
        });
        const rootPem = await createSharedKeyRootCertificate(key);

        mkdirSync(dirname(prefix), { recursive: true });
        if (privateKeyPem !== undefined) {
          writeFileSync(paths.key, privateKeyPem, { mode: 0o600, flag: "wx" });
          chmodSync(paths.key, 0o600);
        }
        writeFileSync(paths.certificate, issued.certificatePem);
        writeFileSync(paths.root, rootPem);

        const written = {
          certificate: paths.certificate,
          ...(privateKeyPem === undefined ? {} : { key: paths.key }),
          root: paths.root,
        };
        out.result(
          {
            files: written,
            identity: issued.identity,
            serial_number: issued.serialNumber,
            not_before: issued.notBefore.toISOString(),
            not_after: issued.notAfter.toISOString(),
            shared_key_thumbprint: key.thumbprint,
          },
          () => [
            `certificate  ${paths.certificate}`,
            privateKeyPem === undefined
              ? `key          ${opts.deviceKey} (given, not written)`
              : `key          ${paths.key} (new, mode 0600; keep it on this device)`,
            `root         ${paths.root} (trust anchor for TLS: the shared key's self-signed root)`,
            `app          ${issued.identity.appId}`,
            `device       ${issued.identity.userId}`,
            `peer key     ${issued.identity.peerKey}`,
            `provider     ${issued.identity.provider} (full access)`,
            `valid until  ${issued.notAfter.toISOString()}`,
            `shared key   ${key.thumbprint}`,
          ],
        );
      },
    );

  cert
    .command("inspect")
    .description(
      "say in plain words what a certificate (PEM or DER) is: kind, identity, permissions, validity",
    )
    .argument("<file>", "the certificate file")
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const out = output(jsonMode(cmd));
      const bytes = readFileOrFail(file, "certificate file");
      const text = bytes.toString("utf8");
      const input: string | Uint8Array = text.includes("-----BEGIN") ? text : new Uint8Array(bytes);
      if (typeof input === "string" && !input.includes("-----BEGIN CERTIFICATE-----")) {
        const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(input)?.[1] ?? "unknown";
        throw new Error(`${file} is a PEM ${label}, not a certificate`);
      }
      let description: Awaited<ReturnType<typeof inspectCertificate>>;
      try {
        description = await inspectCertificate(input);
      } catch (error) {
        throw new Error(`${file} is not a certificate: ${(error as Error).message.split("\n")[0]}`);
      }
      if (out.json) {
        out.result(description, () => []);
        return;
      }
      const lines = (await describeCertificate(input)).trimEnd().split("\n");
      out.result(description, () => lines);
    });
}
