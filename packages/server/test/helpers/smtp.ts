// A real SMTP server in the test process, for sending through nodemailer end to end.
// Messages are parsed by hand (mailparser is not installed): headers, RFC 2047 encoded
// words, multipart bodies, quoted-printable and base64, as nodemailer writes them.
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";

export interface ReceivedMessage {
  /** Envelope sender and recipients (MAIL FROM, RCPT TO). */
  envelope: { from: string; to: string[] };
  /** Header names in lower case; repeated headers keep every value. */
  headers: Map<string, string[]>;
  from: string;
  to: string;
  subject: string;
  text: string | undefined;
  html: string | undefined;
  /** The message as received, headers and body. */
  raw: string;
}

export interface TestSmtpServer {
  /** smtp://127.0.0.1:PORT, with the credentials when the server requires them. */
  url: string;
  port: number;
  messages: ReceivedMessage[];
  waitForMessage(predicate?: (m: ReceivedMessage) => boolean, timeoutMs?: number): Promise<ReceivedMessage>;
  close(): Promise<void>;
}

interface Entity {
  headers: Map<string, string[]>;
  /** Body as a binary string (one char per byte). */
  body: string;
}

function parseHeaders(block: string): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  // Unfold: a line starting with white space continues the previous one.
  for (const line of block.replace(/\r\n(?=[ \t])/g, "").split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const list = headers.get(name) ?? [];
    list.push(line.slice(colon + 1).trim());
    headers.set(name, list);
  }
  return headers;
}

function parseEntity(raw: string): Entity {
  const end = raw.indexOf("\r\n\r\n");
  const head = end === -1 ? raw : raw.slice(0, end);
  const body = end === -1 ? "" : raw.slice(end + 4);
  return { headers: parseHeaders(head), body };
}

function first(headers: Map<string, string[]>, name: string): string {
  return headers.get(name)?.[0] ?? "";
}

/** The value and parameters of a header like Content-Type. */
function headerParams(value: string): { value: string; params: Map<string, string> } {
  const [main = "", ...rest] = value.split(";");
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf("=");
    if (eq === -1) continue;
    params.set(
      p.slice(0, eq).trim().toLowerCase(),
      p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, "$1"),
    );
  }
  return { value: main.trim().toLowerCase(), params };
}

function bytes(binary: string): Buffer {
  return Buffer.from(binary, "latin1");
}

function decodeQuotedPrintable(binary: string): Buffer {
  const unfolded = binary.replace(/=\r?\n/g, "");
  return bytes(
    unfolded.replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
  );
}

function decodeBody(entity: Entity): string {
  const cte = first(entity.headers, "content-transfer-encoding").toLowerCase();
  const charset = headerParams(first(entity.headers, "content-type")).params.get("charset") ?? "utf-8";
  const data =
    cte === "base64"
      ? Buffer.from(entity.body.replace(/\s+/g, ""), "base64")
      : cte === "quoted-printable"
        ? decodeQuotedPrintable(entity.body)
        : bytes(entity.body);
  // SMTP carries CRLF line ends; tests compare with the LF the templates use.
  return new TextDecoder(charset).decode(data).replace(/\r\n/g, "\n");
}

/** Decodes RFC 2047 encoded words (=?UTF-8?Q?...?= and =?UTF-8?B?...?=). */
function decodeWords(value: string): string {
  // Raw 8-bit header bytes (SMTPUTF8) are UTF-8; encoded words are ASCII, so this comes first.
  const utf8 = Buffer.from(value, "latin1").toString("utf8");
  // White space between two encoded words is not part of the text, and a character may
  // be split across adjacent words, so their bytes are joined before decoding.
  return utf8.replace(/(?:=\?[^?]+\?[QqBb]\?[^?]*\?=\s*)+/g, (run) => {
    let charset = "utf-8";
    const chunks: Buffer[] = [];
    for (const [, cs = "utf-8", enc = "Q", text = ""] of run.matchAll(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g)) {
      charset = cs;
      chunks.push(
        enc.toUpperCase() === "B"
          ? Buffer.from(text, "base64")
          : decodeQuotedPrintable(text.replace(/_/g, " ")),
      );
    }
    const trailing = /\s*$/.exec(run)?.[0] ?? "";
    return new TextDecoder(charset).decode(Buffer.concat(chunks)) + trailing;
  });
}

/** Walks multipart entities, keeping the first text/plain and text/html leaves. */
function collectParts(entity: Entity, out: { text?: string; html?: string }): void {
  const type = headerParams(first(entity.headers, "content-type") || "text/plain");
  if (type.value.startsWith("multipart/")) {
    const boundary = type.params.get("boundary");
    if (!boundary) return;
    const sections = entity.body.split(`--${boundary}`);
    // Drop the preamble and everything from the closing delimiter on.
    for (const section of sections.slice(1)) {
      if (section.startsWith("--")) break;
      collectParts(parseEntity(section.replace(/^\r\n/, "").replace(/\r\n$/, "")), out);
    }
    return;
  }
  if (type.value === "text/plain" && out.text === undefined) out.text = decodeBody(entity);
  else if (type.value === "text/html" && out.html === undefined) out.html = decodeBody(entity);
}

export function parseMessage(raw: string, envelope: ReceivedMessage["envelope"]): ReceivedMessage {
  const entity = parseEntity(raw);
  const parts: { text?: string; html?: string } = {};
  collectParts(entity, parts);
  const headers = new Map<string, string[]>();
  for (const [name, values] of entity.headers) headers.set(name, values.map(decodeWords));
  return {
    envelope,
    headers,
    from: first(headers, "from"),
    to: first(headers, "to"),
    subject: first(headers, "subject"),
    text: parts.text,
    html: parts.html,
    raw: Buffer.from(raw, "latin1").toString("utf8"),
  };
}

function readAll(stream: SMTPServerDataStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
    stream.on("error", reject);
  });
}

function envelopeOf(session: SMTPServerSession): ReceivedMessage["envelope"] {
  const from = session.envelope.mailFrom;
  return {
    from: from === false ? "" : from.address,
    to: session.envelope.rcptTo.map((r) => r.address),
  };
}

export interface StartSmtpServerOptions {
  /** Require AUTH with these credentials (over plain TCP, as this is a loopback test server). */
  auth?: { user: string; pass: string };
}

/** Starts an SMTP server on 127.0.0.1 with an ephemeral port; no TLS. */
export async function startSmtpServer(options: StartSmtpServerOptions = {}): Promise<TestSmtpServer> {
  const messages: ReceivedMessage[] = [];
  const waiters = new Set<(m: ReceivedMessage) => void>();
  const { auth } = options;

  const server = new SMTPServer({
    secure: false,
    hideSTARTTLS: true,
    disabledCommands: auth ? ["STARTTLS"] : ["STARTTLS", "AUTH"],
    authOptional: !auth,
    allowInsecureAuth: true,
    logger: false,
    closeTimeout: 1000,
    onAuth(login, _session, callback) {
      if (auth && login.username === auth.user && login.password === auth.pass) {
        callback(null, { user: login.username });
      } else {
        callback(new Error("Invalid username or password"));
      }
    },
    onData(stream, session, callback) {
      readAll(stream).then(
        (raw) => {
          const message = parseMessage(raw, envelopeOf(session));
          messages.push(message);
          for (const w of waiters) w(message);
          callback();
        },
        (e: Error) => callback(e),
      );
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.server.address();
  if (address === null || typeof address === "string") throw new Error("SMTP server has no TCP address");
  const port = address.port;
  const credentials = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.pass)}@` : "";

  return {
    url: `smtp://${credentials}127.0.0.1:${port}`,
    port,
    messages,
    waitForMessage(predicate = () => true, timeoutMs = 5000) {
      const found = messages.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = (m: ReceivedMessage): void => {
          if (!predicate(m)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no matching message within ${timeoutMs} ms (${messages.length} received)`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
