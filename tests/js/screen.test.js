// pingan_screen.js: the command hall's wall. Protects its overdue list (instructions past due,
// unverified alerts and leads past their deadlines, the latest first by lateness, nine rows
// and a count of the rest) and the "newest urgent" banner (recent priority-1 incidents only).
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { page } = require("./harness");

const NOW = "2026-12-04T02:00:00Z";
const TEXTS = {
  urls: { subscribe: "/live/subscribe", ack: "/live/ack" },
  text: { "screen.overdue.more": "另有 {count} 项", "category.fire": "火灾" },
  screenOverdueId: "overdue", screenNewestId: "newest", screenTickerId: "ticker", screenRootId: "screen",
  districtScope: "district", staleAfterS: 60, urgentRecentS: 3600,
  clock: { now_ms: Date.parse(NOW), speed: 1 },
};

function screenPage() {
  const p = page('<div id="screen"><div id="newest" hidden></div><ul id="overdue"></ul><ul id="ticker"></ul></div>',
    { now: Date.parse(NOW) });
  p.load();
  p.window.pingan.auth = { post: function () { return Promise.resolve({}); }, check: function (r) { return r; } };
  const pingan = p.pingan();
  pingan.live.onSocket("sid-1", true);
  let seq = 0;
  return {
    p: p, pingan: pingan,
    push: function (events) {
      seq += 1;
      pingan.live.apply({ seq: seq, last_id: seq + "-0", events: events, clock: TEXTS.clock }, TEXTS);
    },
    // The wall's one-second tick.
    tick: function () { return pingan.screen.update(null, 1, true, TEXTS); },
  };
}

function rows(p) {
  return Array.from(p.document.querySelectorAll("#overdue li")).map(function (li) {
    const late = li.querySelector(".overdue-late");
    return [li.className, late ? late.textContent : li.textContent];
  });
}

test("the overdue list: instructions, alerts and leads past due, the latest first", function () {
  const { p, push, tick } = screenPage();
  push([
    { type: "incident", data: { event_id: "E1", priority: 2, category: "fire", status: "new", grid: "G-07",
      address: "a", reported_at: "2026-12-04T01:30:00Z" } },
    { type: "instruction", data: { instruction_id: "I1", incident_id: "E1", unit_id: "U1", state: "en_route",
      issued_at: "2026-12-04T01:40:00Z", arrival_due: "2026-12-04T01:57:00Z" } },
    { type: "instruction", data: { instruction_id: "I2", incident_id: "E1", unit_id: "U2", state: "issued",
      issued_at: "2026-12-04T01:55:00Z", arrival_due: "2026-12-04T02:05:00Z" } },  // not yet due
    { type: "alert", data: { kind: "alert", event_id: "A1", scenario: "smoke", grid: "G-02", risk: 1,
      received_at: "2026-12-04T01:58:30Z", verify_due: "2026-12-04T01:59:30Z" } },
    { type: "alert", data: { kind: "alert", event_id: "A2", scenario: "smoke", grid: "G-02", risk: 1,
      received_at: "2026-12-04T01:59:30Z", verify_due: "2026-12-04T02:00:30Z" } },  // not yet due
    { type: "lead", data: { lead_id: "L1", state: "pushed", level: "high", grid: "G-03",
      deadline: "2026-12-04T01:50:00Z" } },
  ]);
  tick();
  assert.deepEqual(rows(p), [
    ["overdue-item lead high", "+10:00"], ["overdue-item instruction", "+3:00"], ["overdue-item alert", "+0:30"],
  ]);
  assert.deepEqual(Array.from(p.document.querySelectorAll("#overdue .overdue-where"), function (n) { return n.textContent; }),
    ["G-03", "G-07", "G-02"]);  // an instruction's grid is its incident's
  // A handled lead and a verified alert leave the list; the next second nothing else changed.
  push([{ type: "lead", data: { lead_id: "L1", state: "handled" } },
    { type: "alert_verified", data: { event_id: "A1", verdict: "false_alarm" } }]);
  tick();
  assert.deepEqual(rows(p), [["overdue-item instruction", "+3:00"]]);
});

test("the overdue list shows nine rows and counts the rest", function () {
  const { p, push, tick } = screenPage();
  const alerts = [];
  for (let i = 0; i < 12; i++) {
    alerts.push({ type: "alert", data: { kind: "alert", event_id: "A" + i, scenario: "smoke", grid: "G-01", risk: 2,
      received_at: "2026-12-04T01:50:00Z", verify_due: new Date(Date.parse(NOW) - (i + 1) * 1000).toISOString() } });
  }
  push(alerts);
  tick();
  const shown = rows(p);
  assert.equal(shown.length, 10);
  assert.deepEqual(shown[0], ["overdue-item alert", "+0:12"]);
  assert.deepEqual(shown[8], ["overdue-item alert", "+0:04"]);
  assert.deepEqual(shown[9], ["overdue-more", "另有 3 项"]);
});

test("nothing overdue: the list says so", function () {
  const { p, tick } = screenPage();
  tick();
  assert.deepEqual(rows(p), [["overdue-none", "screen.overdue.none"]]);
});

test("the newest banner shows a recent priority-1 incident, not an old one", function () {
  const { p, push, tick } = screenPage();
  const banner = p.document.getElementById("newest");
  push([{ type: "incident", data: { event_id: "E-old", priority: 1, category: "fire", status: "new", grid: "G-01",
    address: "老街 1 号", reported_at: "2026-12-04T00:30:00Z" } }]);  // 90 minutes ago: history
  tick();
  assert.equal(banner.hidden, true);
  push([{ type: "incident", data: { event_id: "E-new", priority: 1, category: "fire", status: "new", grid: "G-05",
    address: "新街 9 号", reported_at: "2026-12-04T01:58:00Z" } },
  { type: "incident", data: { event_id: "E-p2", priority: 2, category: "fire", status: "new", grid: "G-06",
    address: "b", reported_at: "2026-12-04T01:59:00Z" } }]);
  tick();
  assert.equal(banner.hidden, false);
  assert.equal(banner.className, "screen-newest incident fresh");
  assert.equal(banner.querySelector(".screen-newest-what").textContent, "09:58  火灾");
  assert.equal(banner.querySelector(".screen-newest-where").textContent, "新街 9 号 · G-05");
});

test("the newest banner shows a recent high-risk sensor alert", function () {
  const { p, push, tick } = screenPage();
  push([{ type: "alert", data: { kind: "alert", event_id: "A1", scenario: "smoke", grid: "G-02", risk: 1,
    compound: "幸福小区", building: "3", received_at: "2026-12-04T01:59:00Z", verify_due: "2026-12-04T02:00:00Z" } }]);
  tick();
  const banner = p.document.getElementById("newest");
  assert.equal(banner.hidden, false);
  assert.equal(banner.className, "screen-newest alert fresh");
});
