// messageChannel framing over real mutual TLS, and the signalling server with real
// WebSocket clients: messages arrive whole however TCP cuts them, and bad input ends the
// connection instead of being buffered.
import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { TLSSocket } from "node:tls";
import {
  connectPeer,
  createPeerServer,
  type MessageChannel,
  messageChannel,
  type PeerTrust,
  startSignalingServer,
} from "@meshauth/peer";
import { WebSocket } from "ws";
import { createTestApp, type MeshDevice, type TestApp } from "../../sync/test/helpers/mesh-devices.js";

let app: TestApp;
let a: MeshDevice;
let b: MeshDevice;
before(async () => {
  app = await createTestApp();
  a = await app.device("a");
  b = await app.device("b");
});

async function pair(
  maxFrameBytes?: number,
): Promise<{ server: MessageChannel; client: TLSSocket; close(): void }> {
  const trust: PeerTrust = { type: "ca", certificatePem: app.caCertificatePem };
  let serverChannel!: (c: MessageChannel) => void;
  const ready = new Promise<MessageChannel>((r) => {
    serverChannel = r;
  });
  const server = createPeerServer(
    { key: a.privateKeyPem, certificate: a.certificatePem, trust, appId: app.appId },
    (socket, peer) =>
      serverChannel(
        messageChannel(socket, peer, { initiator: false, ...(maxFrameBytes ? { maxFrameBytes } : {}) }),
      ),
  );
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { socket } = await connectPeer({
    host: "127.0.0.1",
    port: (server.address() as AddressInfo).port,
    key: b.privateKeyPem,
    certificate: b.certificatePem,
    trust,
    appId: app.appId,
  });
  return { server: await ready, client: socket, close: () => server.close() };
}

const frame = (text: string | Buffer): Buffer => {
  const body = typeof text === "string" ? Buffer.from(text) : text;
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
};

describe("messageChannel", () => {
  test("frames cut anywhere, or several in one write, arrive as whole messages in order", async () => {
    const { server, client, close } = await pair();
    const got: string[] = [];
    server.onMessage((m) => got.push(m));
    assert.equal(server.remote.identity.userId, "b");
    const bytes = Buffer.concat([frame("one"), frame("twö"), frame("x".repeat(70_000)), frame("")]);
    for (let i = 0; i < bytes.length; i += 7) client.write(bytes.subarray(i, i + 7));
    while (got.length < 4) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got.slice(0, 2), ["one", "twö"]);
    assert.equal(got[2]?.length, 70_000);
    assert.equal(got[3], "");
    client.destroy();
    close();
  });

  test("a frame over the limit, or bytes that are not UTF-8, end the connection with a reason", async () => {
    for (const [bytes, code] of [
      [Buffer.from([0, 0, 4, 1]), "frame_too_large"],
      [frame(Buffer.from([0xff, 0xfe])), "malformed_frame"],
    ] as const) {
      const { server, client, close } = await pair(1024);
      const errors: string[] = [];
      server.onProtocolError((c) => errors.push(c));
      const closed = new Promise<void>((r) => server.onClose(r));
      client.write(bytes);
      await closed;
      assert.deepEqual(errors, [code]);
      client.destroy();
      close();
    }
  });
});

describe("signalling server", () => {
  const servers: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  async function join(url: string): Promise<{ ws: WebSocket; got: unknown[] }> {
    const ws = new WebSocket(url);
    const got: unknown[] = [];
    ws.on("message", (d) => got.push(JSON.parse(d.toString())));
    await once(ws, "open");
    return { ws, got };
  }

  test("relays messages between the members of a room only", async () => {
    const s = await startSignalingServer();
    servers.push(s);
    const one = await join(`${s.url}/room-a`);
    const two = await join(`${s.url}/room-a`);
    const other = await join(`${s.url}/room-b`);
    one.ws.send(JSON.stringify({ t: "offer", sdp: "x" }));
    while (!two.got.some((m) => (m as { t: string }).t === "offer"))
      await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(one.got.at(-1), { t: "peers", count: 2 });
    assert.equal(other.got.filter((m) => (m as { t: string }).t === "offer").length, 0);
    assert.equal(one.got.filter((m) => (m as { t: string }).t === "offer").length, 0);
    for (const c of [one, two, other]) c.ws.close();
  });

  test("refuses bad room names, full rooms, foreign origins and oversized messages", async () => {
    const s = await startSignalingServer({
      maxRoomSize: 1,
      maxMessageBytes: 100,
      origins: ["https://app.example"],
    });
    servers.push(s);
    const refused = async (url: string, origin?: string) => {
      const ws = new WebSocket(url, origin ? { origin } : {});
      const [error] = (await once(ws, "error")) as [Error];
      return error.message;
    };
    assert.match(await refused(`${s.url}/bad room`, "https://app.example"), /404/);
    assert.match(await refused(`${s.url}/r`, "https://evil.example"), /403/);
    const first = new WebSocket(`${s.url}/r`, { origin: "https://app.example" });
    await once(first, "open");
    assert.match(await refused(`${s.url}/r`, "https://app.example"), /503/);
    first.send("x".repeat(1000));
    const [code] = (await once(first, "close")) as [number];
    assert.equal(code, 1009);
  });
});
