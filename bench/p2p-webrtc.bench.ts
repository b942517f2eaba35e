/**
 * Link setup between two Chromium pages over WebRTC on loopback, with a real hub's tokens
 * and certificates: the data channel opening (ICE, DTLS, SCTP through the signalling
 * server; the baseline) against the same plus meshauth's authentication (token and channel
 * proof both ways) and the link greeting (revocation lists), per link.
 *
 *   npm run bench -- p2p-webrtc     (LINKS=10 to change the count; needs /usr/bin/chromium)
 */
import type { Permissions } from "@meshauth/core";
import { startSignalingServer } from "@meshauth/peer";
import {
  browserSkipReason,
  bundle,
  launchBrowser,
  startStaticServer,
} from "../packages/client/test/browser/harness.js";
import { startSdkHub } from "../packages/client/test/helpers/hub.js";
import type { PeerConfig } from "../packages/rxdb/test/browser/webrtc-peer-page.js";
import { hubDevice } from "../packages/rxdb/test/helpers/hub-devices.js";

const LINKS = Number(process.env.LINKS ?? 10);
const skip = browserSkipReason();
if (skip) {
  console.log(`skipped: ${skip}`);
  process.exit(0);
}

const everything: Permissions = {
  read: { everything: true, queriesByCollection: {} },
  write: { everything: true, queriesByCollection: {} },
};
const t = await startSdkHub({ app: { defaultPermissions: everything } });
const hubJwks = (await (await fetch(`${t.hub.url}/jwks.json`)).json()) as { keys: JsonWebKey[] };
const signaling = await startSignalingServer();
const js = await bundle(
  new URL("../packages/rxdb/test/browser/webrtc-peer-page.ts", import.meta.url).pathname,
  {
    define: { "process.env.NODE_ENV": '"production"' },
  },
);
const site = await startStaticServer({
  "/": '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>',
  "/page.js": { body: js, type: "text/javascript" },
});
const browser = await launchBrowser();
const devices = { a: await hubDevice(t, "a", everything), b: await hubDevice(t, "b", everything) };

type Marks = { open?: number; authenticated?: number; ready?: number };
interface PeerApi {
  marks(): Marks;
  status(): { linked: boolean; authError?: string };
}

async function oneLink(room: string): Promise<Marks> {
  const context = await browser.newContext();
  const pages = [await context.newPage(), await context.newPage()];
  for (const page of pages) {
    await page.goto(site.url);
    await page.waitForFunction(() => "startPeer" in globalThis);
  }
  await Promise.all(
    pages.map((page, i) => {
      const device = i === 0 ? devices.a : devices.b;
      const config: PeerConfig = {
        appId: t.app.id,
        sub: i === 0 ? "a" : "b",
        initiator: i === 0,
        signalUrl: signaling.url,
        room,
        accessToken: device.accessToken,
        privateJwk: device.privateJwk,
        publicJwk: device.publicJwk,
        certificatePem: device.certificatePem,
        caCertificatePem: device.caCertificatePem,
        hubJwks,
      };
      return page.evaluate(
        (c) => (globalThis as never as { startPeer(c: unknown): Promise<void> }).startPeer(c),
        config,
      );
    }),
  );
  const initiator = pages[0]!;
  const deadline = Date.now() + 20_000;
  let marks: Marks = {};
  while (Date.now() < deadline) {
    marks = await initiator.evaluate(() => (globalThis as never as { peer: PeerApi }).peer.marks());
    if (marks.ready !== undefined) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await context.close();
  if (marks.ready === undefined) throw new Error(`link ${room} did not come up: ${JSON.stringify(marks)}`);
  return marks;
}

const median = (values: number[]): number =>
  [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)] ?? 0;
await oneLink("warmup1");
await oneLink("warmup2");
const open: number[] = [];
const total: number[] = [];
const auth: number[] = [];
for (let i = 0; i < LINKS; i++) {
  const m = await oneLink(`room${i}`);
  open.push(m.open as number);
  auth.push((m.authenticated as number) - (m.open as number));
  total.push(m.ready as number);
}
const openMs = median(open);
console.log(
  `\nWebRTC link setup between two Chromium pages on loopback, median of ${LINKS} (initiator's clock)`,
);
console.log(`case                                                          ms   ratio`);
console.log(
  `data channel open (signalling, ICE, DTLS, SCTP): baseline  ${openMs.toFixed(1).padStart(7)}   1.00`,
);
console.log(
  `+ token and channel proof both ways                          ${median(auth).toFixed(1).padStart(7)}   ${(median(auth) / openMs).toFixed(2)}`,
);
console.log(
  `link ready (open + authentication + greeting)                ${median(total).toFixed(1).padStart(7)}   ${(median(total) / openMs).toFixed(2)}`,
);

await browser.close();
await site.close();
await signaling.close();
await t.close();
process.exit(0);
