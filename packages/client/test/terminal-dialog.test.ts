// The Node default dialog: a CLI's email login answered line by line, as a person at a
// terminal would type it, against a real hub and SMTP server.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import { tempDir } from "../../server/test/helpers/engines.js";
import { attachTerminalDialog, createClient, isAbortError, type MeshauthClient } from "../src/node.js";
import { type SdkTestHub, startSdkHub } from "./helpers/hub.js";

let t: SdkTestHub;
before(async () => {
  t = await startSdkHub();
});
after(() => t.close());

function terminal() {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = "";
  output.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
  });
  return {
    input,
    output,
    get text() {
      return text;
    },
    /** Waits until the terminal shows `pattern`, then types `line`. */
    async answer(pattern: RegExp, line: string) {
      for (let i = 0; i < 500 && !pattern.test(text); i++) await new Promise((r) => setTimeout(r, 10));
      assert.match(text, pattern);
      input.write(`${line}\n`);
    },
  };
}

function client(): MeshauthClient {
  return createClient({ hub: t.hub.url, appId: t.app.id, dir: tempDir(), customLoginGui: true });
}

test("a CLI logs in by email code typed at the terminal", async () => {
  const c = client();
  const term = terminal();
  const detach = attachTerminalDialog(c.userInteraction, term);
  try {
    const done = c.login();
    await term.answer(/Email: $/, "cli@example.com");
    await term.answer(/We sent a code to cli@example\.com[\s\S]*Code: $/, "00000000");
    await term.answer(/✖ That code is not right[\s\S]*Code: $/, await t.codeFor("cli@example.com"));
    const user = await done;
    assert.equal(user.email, "cli@example.com");
  } finally {
    detach();
    await c.close();
  }
});

test("end of input cancels the login with an AbortError", async () => {
  const c = client();
  const term = terminal();
  const detach = attachTerminalDialog(c.userInteraction, term);
  try {
    const done = c.login();
    await term.answer(/Email: $/, "eof@example.com");
    for (let i = 0; i < 500 && !/Code: $/.test(term.text); i++) await new Promise((r) => setTimeout(r, 10));
    term.input.end();
    await assert.rejects(done, (e: Error) => isAbortError(e));
    assert.equal(c.currentUser.value.isLoggedIn, false);
  } finally {
    detach();
    await c.close();
  }
});

test("the provider picker takes a number and asks again on a wrong one", async () => {
  const c = createClient({
    hub: t.hub.url,
    appId: t.app.id,
    dir: tempDir(),
    customLoginGui: true,
    loginMethods: [
      { type: "email" },
      {
        type: "provider",
        provider: "playground",
        displayName: "Try without an account",
        getToken: async () => t.app.playgroundToken!,
      },
    ],
  });
  const term = terminal();
  const detach = attachTerminalDialog(c.userInteraction, term);
  try {
    const done = c.login();
    await term.answer(/2\) Try without an account\nChoose 1-2: $/, "7");
    await term.answer(/Choose 1-2: Choose 1-2: $/, "2"); // asked again after "7"
    assert.equal((await done).provider, "playground");
  } finally {
    detach();
    await c.close();
  }
});
