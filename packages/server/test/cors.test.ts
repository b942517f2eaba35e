import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { cleanup, engines } from "./helpers/engines.js";
import { createApp, startTestHub } from "./helpers/hub.js";

after(cleanup);

const [sqlite] = engines();

describe("CORS for browser apps", () => {
  test("only an app's own origins may call it; preflights pass for known origins only", async () => {
    const hub = await startTestHub(sqlite!, { demoApp: false, mode: "production" });
    try {
      const app = await createApp(hub, { name: "shop", corsOrigins: ["https://shop.example"] });
      await createApp(hub, { name: "other", corsOrigins: ["https://other.example"] });
      const preflight = (origin: string) =>
        hub.http.inject({
          method: "OPTIONS",
          url: "/token",
          headers: {
            origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "dpop, content-type",
          },
        });
      const ok = await preflight("https://shop.example");
      assert.equal(ok.headers["access-control-allow-origin"], "https://shop.example");
      assert.match(String(ok.headers["access-control-allow-headers"]), /DPoP/i);
      assert.equal(
        (await preflight("https://evil.example")).headers["access-control-allow-origin"],
        undefined,
      );

      const otp = (origin: string) =>
        hub.http.inject({
          method: "POST",
          url: "/otp",
          headers: { origin },
          payload: { client_id: app.id, email: "a@example.com" },
        });
      const allowed = await otp("https://shop.example");
      assert.equal(allowed.statusCode, 200);
      assert.equal(allowed.headers["access-control-allow-origin"], "https://shop.example");
      assert.match(String(allowed.headers["access-control-expose-headers"]), /DPoP-Nonce/i);
      const crossApp = await otp("https://other.example");
      assert.equal(crossApp.statusCode, 400);
      assert.equal(crossApp.json().error, "unauthorized_client");
      assert.match(crossApp.json().error_description, /not allowed for app shop/);
      const local = await otp("http://localhost:5173");
      assert.equal(local.statusCode, 400, "localhost is not special in production");
    } finally {
      await hub.close();
    }
  });

  test("development mode also admits localhost origins", async () => {
    const hub = await startTestHub(sqlite!, { demoApp: false, mode: "development" });
    try {
      const app = await createApp(hub, { name: "dev" });
      const res = await hub.http.inject({
        method: "POST",
        url: "/otp",
        headers: { origin: "http://localhost:5173" },
        payload: { client_id: app.id, email: "d@example.com" },
      });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers["access-control-allow-origin"], "http://localhost:5173");
      const page = await hub.http.inject("/dev/mailbox.json");
      assert.equal(page.statusCode, 200);
      assert.ok(
        JSON.stringify(page.json()).includes("d@example.com"),
        "the dev mailbox shows the code without SMTP",
      );
    } finally {
      await hub.close();
    }
  });
});
