// Two Chromium pages of one origin replicate over an RTCDataChannel on loopback, with a
// real hub's tokens and device certificates, the signalling server of @meshauth/peer, and
// real RxDB in each page: each sees only what its rules allow, and refuses what the other
// may not write.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Permissions } from "@meshauth/core";
import { type SignalingServer, startSignalingServer } from "@meshauth/peer";
import type { Browser, Page } from "playwright-core";
import {
  browserSkipReason,
  bundle,
  launchBrowser,
  type StaticServer,
  startStaticServer,
  watchPage,
} from "../../client/test/browser/harness.js";
import { type SdkTestHub, startSdkHub } from "../../client/test/helpers/hub.js";
import type { PeerConfig } from "./browser/webrtc-peer-page.js";
import { hubDevice } from "./helpers/hub-devices.js";

const skip = browserSkipReason();

const noAccess: Permissions = {
  read: { everything: false, queriesByCollection: {} },
  write: { everything: false, queriesByCollection: {} },
};
const alicePermissions: Permissions = {
  read: { everything: false, queriesByCollection: { todos: ["true"] } },
  write: {
    everything: false,
    queriesByCollection: { todos: ["_id.owner == 'alice'", "_id.owner == 'shared'"] },
  },
};
const bobPermissions: Permissions = {
  read: {
    everything: false,
    queriesByCollection: { todos: ["_id.owner == 'bob'", "_id.owner == 'shared'"] },
  },
  write: { everything: false, queriesByCollection: { todos: ["_id.owner == 'bob'"] } },
};

async function until(check: () => Promise<boolean>, what: string, timeout = 20_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Doc {
  key: string;
  title: string;
  by: string;
}
const documents = (page: Page) =>
  page.evaluate(() => (globalThis as never as { peer: { documents(): Promise<Doc[]> } }).peer.documents());
const refusals = (page: Page) =>
  page.evaluate(() =>
    (
      globalThis as never as { peer: { refusals(): { primary: string; code: string; direction: string }[] } }
    ).peer.refusals(),
  );
const status = (page: Page) =>
  page.evaluate(() =>
    (
      globalThis as never as {
        peer: { status(): { linked: boolean; remoteUser?: string; authError?: string } };
      }
    ).peer.status(),
  );
const insert = (page: Page, owner: string, item: string, title: string) =>
  page.evaluate(
    ([o, i, t]) =>
      (
        globalThis as never as { peer: { insert(o: string, i: string, t: string): Promise<void> } }
      ).peer.insert(o as string, i as string, t as string),
    [owner, item, title],
  );

describe("browsers over WebRTC", { skip }, () => {
  let t: SdkTestHub;
  let signaling: SignalingServer;
  let site: StaticServer;
  let browser: Browser;
  let hubJwks: { keys: JsonWebKey[] };

  before(async () => {
    t = await startSdkHub({ app: { defaultPermissions: noAccess } });
    hubJwks = (await (await fetch(`${t.hub.url}/jwks.json`)).json()) as { keys: JsonWebKey[] };
    signaling = await startSignalingServer();
    const js = await bundle(new URL("./browser/webrtc-peer-page.ts", import.meta.url).pathname);
    site = await startStaticServer({
      "/": '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>',
      "/page.js": { body: js, type: "text/javascript" },
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await site?.close();
    await signaling?.close();
    await t?.close();
  });

  test("two pages replicate over a data channel; each sees only what it may read", async () => {
    const context = await browser.newContext();
    const [alice, bob] = [await context.newPage(), await context.newPage()];
    const watches = [watchPage(alice), watchPage(bob)];
    const devices = {
      alice: await hubDevice(t, "alice", alicePermissions),
      bob: await hubDevice(t, "bob", bobPermissions),
    };
    for (const [page, sub, initiator] of [
      [alice, "alice", true],
      [bob, "bob", false],
    ] as const) {
      await page.goto(site.url);
      await page.waitForFunction(() => "startPeer" in globalThis);
      const device = devices[sub];
      const config: PeerConfig = {
        appId: t.app.id,
        sub,
        initiator,
        signalUrl: signaling.url,
        room: "room1",
        accessToken: device.accessToken,
        privateJwk: device.privateJwk,
        publicJwk: device.publicJwk,
        certificatePem: device.certificatePem,
        caCertificatePem: device.caCertificatePem,
        hubJwks,
      };
      await page.evaluate(
        (c) => (globalThis as never as { startPeer(c: unknown): Promise<void> }).startPeer(c),
        config,
      );
    }
    await until(
      async () => (await status(alice)).linked && (await status(bob)).linked,
      "both pages linked",
      60_000,
    );
    assert.equal((await status(alice)).remoteUser, "bob");
    assert.equal((await status(bob)).remoteUser, "alice");

    await insert(alice, "alice", "private", "alice only");
    await insert(alice, "shared", "list", "for both");
    await insert(bob, "bob", "task", "bob's");
    await insert(bob, "alice", "hack", "bob writes as alice");

    await until(
      async () => (await documents(bob)).some((d) => d.key === "shared|list"),
      "bob has the shared list",
    );
    await until(
      async () => (await documents(alice)).some((d) => d.key === "bob|task"),
      "alice has bob's task",
    );
    await until(async () => (await refusals(alice)).length > 0, "alice refused bob's forbidden write");
    const bobSees = await documents(bob);
    assert.deepEqual(
      bobSees.map((d) => d.key),
      ["alice|hack", "bob|task", "shared|list"],
      "bob never receives alice's private document (its own refused write stays local)",
    );
    assert.equal(bobSees.find((d) => d.key === "shared|list")?.by, devices.alice.peerKey);
    const aliceSees = await documents(alice);
    assert.deepEqual(
      aliceSees.map((d) => d.key),
      ["alice|private", "bob|task", "shared|list"],
    );
    assert.equal(aliceSees.find((d) => d.key === "bob|task")?.by, devices.bob.peerKey);
    assert.deepEqual(
      (await refusals(alice)).map((r) => [r.direction, r.primary, r.code]),
      [["received", "alice|hack", "author_cannot_write"]],
    );
    for (const w of watches) w.assertNoErrors();
    await context.close();
  });

  test("a page with a token of another hub is refused over the channel", async () => {
    const other = await startSdkHub({ app: { defaultPermissions: noAccess } });
    try {
      const context = await browser.newContext();
      const [alice, mallory] = [await context.newPage(), await context.newPage()];
      const aliceDevice = await hubDevice(t, "alice", alicePermissions);
      const malloryDevice = await hubDevice(other, "mallory", alicePermissions);
      for (const [page, sub, device, initiator] of [
        [alice, "alice", aliceDevice, false],
        [mallory, "mallory", malloryDevice, true],
      ] as const) {
        await page.goto(site.url);
        await page.waitForFunction(() => "startPeer" in globalThis);
        const config: PeerConfig = {
          appId: t.app.id,
          sub,
          initiator,
          signalUrl: signaling.url,
          room: "room2",
          accessToken: device.accessToken,
          privateJwk: device.privateJwk,
          publicJwk: device.publicJwk,
          certificatePem: device.certificatePem,
          caCertificatePem: aliceDevice.caCertificatePem,
          hubJwks,
        };
        await page.evaluate(
          (c) => (globalThis as never as { startPeer(c: unknown): Promise<void> }).startPeer(c),
          config,
        );
      }
      await until(async () => (await status(alice)).authError !== undefined, "alice refused mallory");
      assert.match(String((await status(alice)).authError), /refused|token/);
      assert.equal((await status(alice)).linked, false);
      await context.close();
    } finally {
      await other.close();
    }
  });
});
