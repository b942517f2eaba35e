// A small WebSocket signalling server for browser peers: it relays WebRTC offers, answers
// and candidates between the members of a room, nothing else. It is not trusted: peers
// authenticate each other over the data channel afterwards (token plus channel proof), so
// a signalling server that lies can only keep peers apart, never let a stranger in.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

export interface SignalingServerOptions {
  port?: number;
  host?: string;
  /** Most members per room. Default 8. */
  maxRoomSize?: number;
  /** Most rooms at once. Default 1000. */
  maxRooms?: number;
  /** Largest message relayed, bytes. Default 64 KiB (an SDP with candidates is a few KiB). */
  maxMessageBytes?: number;
  /** Allowed page origins (`Origin` header); default any. */
  origins?: readonly string[];
}

export interface SignalingServer {
  /** `ws://host:port`; clients connect to `${url}/<room>`. */
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

const ROOM = /^\/([A-Za-z0-9_-]{1,128})$/;

/**
 * Starts the server. Protocol: connect to `ws://host:port/<room>`; every text message is
 * relayed to the other members of the room; on every join and leave each member receives
 * `{"t":"peers","count":n}`.
 */
export async function startSignalingServer(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  const maxRoomSize = options.maxRoomSize ?? 8;
  const maxRooms = options.maxRooms ?? 1000;
  const maxMessageBytes = options.maxMessageBytes ?? 64 * 1024;
  const rooms = new Map<string, Set<WebSocket>>();
  const server = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain" }).end("connect with a WebSocket to /<room>\n");
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes });

  const announce = (members: Set<WebSocket>): void => {
    const text = JSON.stringify({ t: "peers", count: members.size });
    for (const member of members) member.send(text);
  };

  server.on("upgrade", (req, socket, head) => {
    const room = ROOM.exec(new URL(req.url ?? "/", "http://x").pathname)?.[1];
    const origin = req.headers.origin;
    const refuse = (status: string): void => {
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`);
    };
    if (!room) return refuse("404 Not Found");
    if (options.origins && (!origin || !options.origins.includes(origin))) return refuse("403 Forbidden");
    const members = rooms.get(room) ?? new Set<WebSocket>();
    if (members.size >= maxRoomSize || (!rooms.has(room) && rooms.size >= maxRooms))
      return refuse("503 Service Unavailable");
    wss.handleUpgrade(req, socket, head, (ws) => {
      rooms.set(room, members);
      members.add(ws);
      ws.on("message", (data, isBinary) => {
        if (isBinary) return;
        const text = data.toString();
        for (const member of members) if (member !== ws) member.send(text);
      });
      ws.on("close", () => {
        members.delete(ws);
        if (members.size === 0) rooms.delete(room);
        else announce(members);
      });
      ws.on("error", () => ws.terminate());
      announce(members);
    });
  });

  server.listen(options.port ?? 0, options.host ?? "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `ws://${address.address}:${address.port}`,
    server,
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
