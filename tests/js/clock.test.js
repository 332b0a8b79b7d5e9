// pingan_clock.js: the page runs on the server's clock (clock.py), not the desk's. Protects the
// time-lapse pace, the jitter filter on samples, and Beijing-time "today" / "HH:MM" / "N ago"
// as every countdown, feed row and header shows them.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { page } = require("./harness");

const MIN = 60 * 1000;
const HOUR = 60 * MIN;

function clockPage(options) {
  const p = page("", options);
  p.load(["pingan_clock.js"]);
  return { p: p, clock: p.pingan().clock };
}

// The page's arrays belong to its own realm: copy them to compare with deepEqual.
function ago(clock, value) { return Array.from(clock.ago(value)); }

// The server says it is `iso` (UTC) at pace `speed`.
function at(clock, iso, speed) { clock.sync({ now_ms: Date.parse(iso), speed: speed }); }

test("before any sample the page uses the desk's clock", function () {
  const { clock } = clockPage({ now: Date.UTC(2026, 0, 2, 3, 4, 5) });
  assert.equal(clock.now(), Date.UTC(2026, 0, 2, 3, 4, 5));
});

test("now() follows the server's time and pace", function () {
  const { p, clock } = clockPage();
  at(clock, "2026-12-04T02:00:00Z", 1);
  assert.equal(clock.now(), Date.parse("2026-12-04T02:00:00Z"));
  p.advance(1000);
  assert.equal(clock.now(), Date.parse("2026-12-04T02:00:01Z"));
});

test("a time-lapse at 10x advances 10 s per second", function () {
  const { p, clock } = clockPage();
  at(clock, "2026-12-04T02:00:00Z", 10);
  p.advance(1000);
  assert.equal(clock.now(), Date.parse("2026-12-04T02:00:10Z"));
  p.advance(6000);
  assert.equal(clock.now(), Date.parse("2026-12-04T02:01:10Z"));
});

test("a sample within 1 s of the running estimate is ignored; a further one or a new pace is taken", function () {
  const { p, clock } = clockPage();
  at(clock, "2026-12-04T02:00:00Z", 1);
  p.advance(5000);
  const estimate = clock.now();
  clock.sync({ now_ms: estimate + 900, speed: 1 });   // network jitter: no jump
  assert.equal(clock.now(), estimate);
  clock.sync({ now_ms: estimate - 900 });            // no speed means 1
  assert.equal(clock.now(), estimate);
  clock.sync({ now_ms: estimate + 1500, speed: 1 });  // the desk drifted: follow the server
  assert.equal(clock.now(), estimate + 1500);
  clock.sync({ now_ms: estimate + 1500, speed: 60 }); // same time, new pace: taken
  assert.equal(clock.state.speed, 60);
  p.advance(1000);
  assert.equal(clock.now(), estimate + 1500 + 60 * 1000);
});

test("samples without a numeric now_ms change nothing", function () {
  const { clock } = clockPage();
  at(clock, "2026-12-04T02:00:00Z", 1);
  [null, undefined, {}, { now_ms: "2026-12-04T05:00:00Z" }].forEach(function (sample) { clock.sync(sample); });
  assert.equal(clock.now(), Date.parse("2026-12-04T02:00:00Z"));
});

test("when(): HH:MM today, MM-DD HH:MM another day, the year in another year (Beijing time)", function () {
  const { clock } = clockPage();
  at(clock, "2026-12-04T02:00:00Z", 1);  // 10:00 on 4 December in Beijing
  assert.equal(clock.when("2026-12-04T01:05:00Z"), "09:05");
  assert.equal(clock.when("2026-12-03T23:30:00Z"), "07:30");  // 23:30 UTC on the 3rd is the 4th in Beijing
  assert.equal(clock.when("2026-12-03T16:00:00Z"), "00:00");  // Beijing midnight reads 00:00, not 24:00
  assert.equal(clock.when("2026-12-03T15:56:00Z"), "12-03 23:56");
  assert.equal(clock.when(Date.parse("2026-11-30T04:20:00Z")), "11-30 12:20");  // ms since the epoch too
  assert.equal(clock.when("2025-12-31T15:30:00Z"), "2025-12-31 23:30");
  assert.equal(clock.when("2025-12-31T16:30:00Z"), "01-01 00:30");  // already 2026 in Beijing
});

test("ago(): minutes below 120, hours below 48, then days", function () {
  const { clock } = clockPage();
  at(clock, "2026-12-04T02:00:00Z", 1);
  const now = Date.parse("2026-12-04T02:00:00Z");
  assert.deepEqual(ago(clock, now), [0, "minutes"]);
  assert.deepEqual(ago(clock, now + 5 * MIN), [0, "minutes"]);  // from the future: never negative
  assert.deepEqual(ago(clock, now - 59 * 1000), [0, "minutes"]);
  assert.deepEqual(ago(clock, new Date(now - 119 * MIN - 59 * 1000).toISOString()), [119, "minutes"]);
  assert.deepEqual(ago(clock, now - 120 * MIN), [2, "hours"]);
  assert.deepEqual(ago(clock, now - 47 * HOUR - 59 * MIN), [47, "hours"]);
  assert.deepEqual(ago(clock, now - 48 * HOUR), [2, "days"]);
  assert.deepEqual(ago(clock, now - 10 * 24 * HOUR - 5 * HOUR), [10, "days"]);
});

test("ago() runs on the server's time, not the desk's", function () {
  const { p, clock } = clockPage({ now: Date.UTC(2030, 0, 1) });  // the desk is years ahead
  at(clock, "2026-12-04T02:00:00Z", 60);
  p.advance(60 * 1000);  // one desk minute at 60x: an hour on the server
  assert.deepEqual(ago(clock, "2026-12-04T02:00:00Z"), [60, "minutes"]);
});

test("isToday() turns over at Beijing midnight, not UTC's", function () {
  const { p, clock } = clockPage();
  at(clock, "2026-12-03T15:59:00Z", 1);  // 23:59 on the 3rd in Beijing
  assert.equal(clock.isToday("2026-12-03T01:00:00Z"), true);   // 09:00 on the 3rd
  assert.equal(clock.isToday("2026-12-03T16:30:00Z"), false);  // 00:30 on the 4th (same UTC day)
  p.advance(2 * MIN);  // 00:01 on the 4th in Beijing
  assert.equal(clock.isToday("2026-12-03T01:00:00Z"), false);
  assert.equal(clock.isToday("2026-12-03T16:30:00Z"), true);
  assert.equal(clock.isToday("2026-12-03T16:00:00Z"), true);   // Beijing midnight itself
  assert.equal(clock.isToday("2026-12-03T15:59:59Z"), false);
  assert.equal(clock.dayOf("2026-12-03T16:00:00Z"), "2026-12-04");
});
