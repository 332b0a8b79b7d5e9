// pingan_auth.js: the page follows the server's session. Protects the idle lock's limit (the
// auth-config element's data-idle-minutes; 0 = a kiosk that never goes idle), the server's URLs
// taken from its data-*-url attributes, the CSRF header, and leaving on a 401.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { page, settle } = require("./harness");

// The sign-in URL only changes the fragment: jsdom follows that (it does not load other pages).
function authPage(idleMinutes) {
  const p = page('<div id="auth-config" data-idle-minutes="' + idleMinutes + '" data-login-url="/command#signin"' +
    ' data-logout-url="/auth/logout" data-touch-url="/auth/touch"></div>');
  const calls = [];
  p.window.fetch = function (url, init) {
    calls.push({ url: url, method: init.method, headers: init.headers, body: init.body });
    return Promise.resolve({ status: 200 });
  };
  p.document.cookie = "theme=dark";
  p.document.cookie = "_csrf_token=tok%2Fen";
  p.load(["pingan_auth.js"]);
  return { p: p, calls: calls, auth: p.pingan().auth };
}

test("after data-idle-minutes without input the page signs out and goes to the sign-in URL", async function () {
  const { p, calls } = authPage(15);
  p.advance(14 * 60 * 1000);
  assert.equal(calls.length, 0);
  p.window.dispatchEvent(new p.window.KeyboardEvent("keydown"));  // activity restarts the idle time
  p.advance(14 * 60 * 1000);
  assert.deepEqual(calls.map(function (c) { return c.url; }), ["/auth/touch"]);
  p.advance(61 * 1000 + 5000);
  assert.deepEqual(calls.map(function (c) { return c.url; }), ["/auth/touch", "/auth/logout"]);
  assert.equal(calls[1].method, "POST");
  assert.equal(calls[1].headers["X-CSRFToken"], "tok/en");
  await settle();
  assert.equal(p.window.location.href, "https://pingan.test/command#signin?why=idle");
  assert.ok(p.document.body.classList.contains("session-over"));
});

test("data-idle-minutes 0: a big screen's session never goes idle", function () {
  const { p, calls } = authPage(0);
  p.advance(7 * 24 * 60 * 60 * 1000);
  assert.equal(calls.length, 0);
  assert.equal(p.window.location.href, "https://pingan.test/command");
});

test("activity is reported to the touch URL at most once a minute", function () {
  const { p, calls } = authPage(30);
  const press = function () { p.window.dispatchEvent(new p.window.Event("pointerdown")); };
  press();
  assert.equal(calls.length, 0);  // the page was just loaded
  p.advance(61 * 1000);
  press();
  press();
  p.advance(30 * 1000);
  press();
  assert.deepEqual(calls.map(function (c) { return c.url; }), ["/auth/touch"]);
  assert.equal(calls[0].body, "{}");
  p.advance(31 * 1000);
  press();
  assert.deepEqual(calls.map(function (c) { return c.url; }), ["/auth/touch", "/auth/touch"]);
});

test("a 401 from the server leaves for the sign-in URL with the server's reason", async function () {
  const { p, auth } = authPage(30);
  const ok = { status: 200 };
  assert.equal(auth.check(ok), ok);
  await settle();
  assert.equal(p.window.location.href, "https://pingan.test/command");
  const over = { status: 401, clone: function () { return { json: function () { return Promise.resolve({ why: "expired" }); } }; } };
  assert.equal(auth.check(over), over);
  await settle();
  assert.equal(p.window.location.href, "https://pingan.test/command#signin?why=expired");
  assert.ok(p.document.body.classList.contains("session-over"));
});

test("post() sends JSON with the CSRF token from the cookie", function () {
  const { auth, calls } = authPage(30);
  assert.equal(auth.csrfToken(), "tok/en");
  auth.post("/dispatch/act", { a: 1 });
  assert.equal(calls[0].url, "/dispatch/act");
  assert.equal(calls[0].headers["Content-Type"], "application/json");
  assert.equal(calls[0].body, '{"a":1}');
});
