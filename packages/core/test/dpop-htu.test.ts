import assert from "node:assert/strict";
import { test } from "node:test";
import { normalizeHtu } from "@meshauth/core";

test("normalizeHtu: scheme and host lowercased, default ports dropped", () => {
  assert.equal(normalizeHtu("HTTPS://Hub.Example.COM:443/token"), "https://hub.example.com/token");
  assert.equal(normalizeHtu("http://hub.example.com:80/token"), "http://hub.example.com/token");
  assert.equal(normalizeHtu("https://hub.example.com:8443/token"), "https://hub.example.com:8443/token");
  assert.equal(normalizeHtu("http://hub.example.com:443/token"), "http://hub.example.com:443/token");
  assert.equal(normalizeHtu(new URL("https://[::1]:443/t")), "https://[::1]/t");
});

test("normalizeHtu: query and fragment dropped, path kept as is otherwise", () => {
  assert.equal(normalizeHtu("https://h.example/token?grant_type=x#top"), "https://h.example/token");
  assert.equal(normalizeHtu("https://h.example/Token/"), "https://h.example/Token/");
  assert.equal(normalizeHtu("https://h.example"), "https://h.example/");
  assert.equal(normalizeHtu("https://h.example?x"), "https://h.example/");
});

test("normalizeHtu: dot segments and percent-encoding", () => {
  assert.equal(normalizeHtu("https://h.example/a/./b/../token"), "https://h.example/a/token");
  // Unreserved characters decoded, other escapes in upper case, reserved ones kept.
  assert.equal(normalizeHtu("https://h.example/%7euser/%74oken"), "https://h.example/~user/token");
  assert.equal(normalizeHtu("https://h.example/a%2fb%3A"), "https://h.example/a%2Fb%3A");
  assert.equal(normalizeHtu("https://h.example/a b"), "https://h.example/a%20b");
  assert.equal(normalizeHtu("https://bücher.example/x"), "https://xn--bcher-kva.example/x");
});

test("normalizeHtu: refuses what is not an http(s) URL or carries credentials", () => {
  for (const bad of [
    "/token",
    "token",
    "",
    "ftp://h.example/x",
    "javascript:alert(1)",
    "https://u:p@h.example/",
  ]) {
    assert.throws(() => normalizeHtu(bad), TypeError, bad);
  }
});
