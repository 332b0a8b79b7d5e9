// pingan_live.js: the page's side of the push protocol (push/hub.py) and the instruction clocks.
// Protects: a batch is applied once and acknowledged (a resend is acknowledged again, never
// applied twice), a gap re-subscribes from the last applied stream id, an incident already
// shown is not added again, every event type of bus/events.py (pingan_events.js) has a handler,
// and clockOf()'s levels that colour the instructions list and the wall's overdue list.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { page, settle } = require("./harness");

const TEXTS = {
  urls: { subscribe: "/live/subscribe", ack: "/live/ack", reportPage: "/reports/<kind>/<key>" },
  text: { "category.theft": "盗窃", "status.new": "新警情", "status.dispatched": "已派警",
    "report.daily.title": "每日任务完成报表", "report.notice": "{title}（{key}）已送达 {time}",
    "report.notice.late": "{title}（{key}）补发送达 {time}（迟送）", "report.notice.open": "查看" },
  feedId: "feed", instructionsId: "instructions", indicatorVersionId: "indicator-version",
  districtScope: "district", staleAfterS: 60, canOpenIncident: false, canDispatch: false, canReadReports: true,
  clock: { now_ms: Date.parse("2026-12-04T02:00:00Z"), speed: 1 },
};

// A page with all the real scripts; the auth layer's POST is recorded and answers at once.
function livePage() {
  const p = page('<ul id="feed"></ul><ul id="instructions"></ul>');
  p.load();
  const posts = [];
  p.window.pingan.auth = {
    post: function (url, body) { posts.push([url, JSON.parse(JSON.stringify(body))]); return Promise.resolve({ status: 200 }); },
    check: function (response) { return response; },
  };
  const live = p.pingan().live;
  live.onSocket("sid-1", true);
  return { p: p, live: live, posts: posts };
}

function batch(seq, lastId, events, extra) {
  return Object.assign({ seq: seq, try: 1, from: null, last_id: lastId, events: events || [],
    clock: { now_ms: Date.parse("2026-12-04T02:00:00Z"), speed: 1 } }, extra || {});
}

function incident(id, extra) {
  return { type: "incident", data: Object.assign({ event_id: id, priority: 2, category: "theft", status: "new",
    grid: "G-01", address: "河东路 1 号", reported_at: "2026-12-04T01:58:00Z", lat: 39.3, lon: 112.4 }, extra || {}) };
}

function feedIds(p) {
  return Array.from(p.document.querySelectorAll("#feed li[data-event-id]")).map(function (li) {
    return li.getAttribute("data-event-id");
  });
}

test("a batch with the next seq is applied, then acknowledged", async function () {
  const { p, live, posts } = livePage();
  assert.equal(live.apply(batch(1, "1-0", [incident("E1")]), TEXTS), true);
  // The socket came before the settings: the subscription goes out as soon as the URLs are known.
  assert.deepEqual(posts, [["/live/subscribe", { sid: "sid-1", last_id: null }]]);
  assert.deepEqual(feedIds(p), ["E1"]);
  assert.equal(live.state.seq, 1);
  assert.equal(live.state.lastId, "1-0");
  p.flush();  // the ack goes once this task is done
  await settle();
  assert.deepEqual(posts.slice(1), [["/live/ack", { sid: "sid-1", seq: 1 }]]);
  assert.equal(live.apply(batch(2, "2-0", [incident("E2")]), TEXTS), true);
  p.flush();
  assert.deepEqual(posts.slice(2), [["/live/ack", { sid: "sid-1", seq: 2 }]]);
  assert.deepEqual(feedIds(p), ["E2", "E1"]);  // the newest on top
  assert.equal(live.state.shown, 2);
});

test("a resent batch is acknowledged again but not applied twice", function () {
  const { p, live, posts } = livePage();
  const first = batch(1, "1-0", [incident("E1"), { type: "counters", data: { dead_letters_added: 2 } }]);
  live.apply(first, TEXTS);
  p.flush();
  posts.length = 0;
  assert.equal(live.apply(first, TEXTS), false);  // the ack was lost: the hub sends it again
  assert.deepEqual(posts, [["/live/ack", { sid: "sid-1", seq: 1 }]]);  // at once, no timer
  assert.equal(p.timers.filter(function (timer) { return !timer.every; }).length, 0);
  assert.equal(live.state.deadLetters, 2);  // counters are added once
  assert.equal(live.state.shown, 1);
  assert.deepEqual(feedIds(p), ["E1"]);
  assert.equal(live.state.seq, 1);
});

test("a gap re-subscribes from the last applied stream id and the next seq 1 is applied", function () {
  const { p, live, posts } = livePage();
  live.apply(batch(1, "1-0", [incident("E1")]), TEXTS);
  live.apply(batch(2, "5-0", [incident("E2")]), TEXTS);
  p.flush();
  posts.length = 0;
  assert.equal(live.apply(batch(4, "9-0", [incident("E4")]), TEXTS), false);  // seq 3 never came
  assert.deepEqual(posts, [["/live/subscribe", { sid: "sid-1", last_id: "5-0" }]]);
  assert.deepEqual(feedIds(p), ["E2", "E1"]);
  assert.equal(live.state.lastId, "5-0");
  // The hub starts again from that id with a fresh sequence.
  assert.equal(live.apply(batch(1, "7-0", [incident("E3")]), TEXTS), true);
  assert.deepEqual(feedIds(p), ["E3", "E2", "E1"]);
});

test("a new connection starts its sequence afresh and re-subscribes from the last id", function () {
  const { p, live, posts } = livePage();
  live.apply(batch(1, "1-0", [incident("E1")]), TEXTS);
  live.apply(batch(2, "2-0"), TEXTS);
  p.flush();
  posts.length = 0;
  live.onSocket("sid-2", true);
  assert.deepEqual(posts, [["/live/subscribe", { sid: "sid-2", last_id: "2-0" }]]);
  assert.equal(live.apply(batch(1, "3-0", [incident("E3")]), TEXTS), true);
});

test("an incident already shown is not added again", function () {
  const { p, live } = livePage();
  live.apply(batch(1, "1-0", [incident("E1")]), TEXTS);
  live.apply(batch(2, "2-0", [incident("E1", { status: "dispatched" }), incident("E2")]), TEXTS);
  assert.deepEqual(feedIds(p), ["E2", "E1"]);
  assert.equal(live.state.incidents.size, 2);
  assert.equal(live.state.incidents.get("E1").data.status, "new");  // the first copy stays; status events move it
  // The same after a snapshot brought it.
  live.apply(batch(3, "3-0", [], { snapshot: { incidents: [incident("E5").data], units: [] } }), TEXTS);
  live.apply(batch(4, "4-0", [incident("E5")]), TEXTS);
  assert.deepEqual(feedIds(p), ["E5"]);
  assert.equal(live.state.incidents.size, 1);
});

test("a full board drops finished incidents first: an open one stays as long as there is room", function () {
  const { live } = livePage();
  const open = Array.from({ length: 450 }, function (_, n) { return incident("OPEN-" + n).data; });
  const done = Array.from({ length: 100 }, function (_, n) { return incident("DONE-" + n, { status: "closed" }).data; });
  // The oldest first, as a snapshot orders them: 100 finished ones, then 450 still open.
  live.apply(batch(1, "1-0", [], { snapshot: { incidents: done.concat(open), units: [] } }), TEXTS);
  live.apply(batch(2, "2-0", [incident("NEW-1")]), TEXTS);
  const kept = Array.from(live.state.incidents.keys());
  assert.equal(kept.length, 500);
  assert.equal(kept.filter(function (id) { return id.startsWith("OPEN-"); }).length, 450);
  assert.ok(kept.includes("NEW-1"));
  assert.equal(kept.filter(function (id) { return id.startsWith("DONE-"); }).length, 49);
});

test("an incident_status event updates the incident and its feed row", function () {
  const { p, live } = livePage();
  live.apply(batch(1, "1-0", [incident("E1")]), TEXTS);
  live.apply(batch(2, "2-0", [{ type: "incident_status", data: { event_id: "E1", status: "dispatched" } }]), TEXTS);
  assert.equal(live.state.incidents.get("E1").data.status, "dispatched");
  assert.equal(p.document.querySelector('#feed [data-event-id="E1"] .feed-status').textContent, "已派警");
});

test("the wall's one-second tick takes an alert's flash off the map after five minutes, not its card", function () {
  const { p, live } = livePage();
  const pingan = p.pingan();
  live.apply(batch(1, "1-0", [{ type: "alert", data: { kind: "alert", event_id: "A1", verify_due: "2026-12-04T02:01:00Z",
    device_id: "D1", risk: 1 } }]), TEXTS);
  p.advance(4 * 60 * 1000);
  live.apply(null, TEXTS);
  assert.ok(live.state.alerts.has("A1"), "still flashing four minutes on");
  p.advance(61 * 1000);
  live.apply(null, TEXTS);
  // Left unverified for days, a wall would otherwise pile up a marker per alert (the soak saw it).
  assert.equal(live.state.alerts.has("A1"), false);
  assert.ok(pingan.alerts.state.open.has("A1"), "the alert still waits for its verdict in the queue");
});

test("every event type in pingan_events.js has a handler", function () {
  const { p, live } = livePage();
  const pingan = p.pingan();
  const due = "2026-12-04T02:01:00Z";
  // One event of each type, and what its handler must have done.
  const cases = {
    incident: [{ event_id: "E1", priority: 1, category: "theft", status: "new", grid: "G-01", address: "a",
      reported_at: "2026-12-04T01:59:00Z" }, function () { return live.state.incidents.has("E1"); }],
    incident_status: [{ event_id: "E1", status: "dispatched" },
      function () { return live.state.incidents.get("E1").data.status === "dispatched"; }],
    unit: [{ unit_id: "U1", status: "busy", lat: 39.3, lon: 112.4, heading: 90 },
      function () { return live.state.units.has("U1"); }],
    alert: [{ kind: "alert", event_id: "A1", verify_due: due, device_id: "D1", risk: 1 },
      function () { return live.state.alerts.has("A1") && pingan.alerts.state.open.has("A1"); }],
    fault: [{ kind: "fault", event_id: "F1", device_id: "D2" }, function () { return live.state.alerts.has("F1"); }],
    alert_verified: [{ event_id: "A1", verdict: "dispatched" },
      function () { return !pingan.alerts.state.open.has("A1"); }],
    device_health: [{ device_id: "D2", health: "faulty" },
      function () { return pingan.alerts.state.health.D2 === "faulty"; }],
    device_health_all: [{ D3: "offline", D4: "awaiting" }, function () {  // the whole map: D2 is online again
      const health = pingan.alerts.state.health;
      return health.D3 === "offline" && health.D4 === "awaiting" && !("D2" in health);
    }],
    instruction: [{ instruction_id: "I1", incident_id: "E1", unit_id: "U1", state: "issued",
      issued_at: "2026-12-04T02:00:00Z", arrival_due: "2026-12-04T02:10:00Z" },
    function () { return live.state.instructions.has("I1"); }],
    lead: [{ lead_id: "L1", state: "pushed", level: "high", deadline: due },
      function () { return pingan.risk.state.leads.has("L1"); }],
    risk_grades: [{ grades: { "7d": { "G-01": "high" } } },
      function () { return pingan.risk.state.grades["7d"]["G-01"] === "high"; }],
    indicators: [{ asof: "2026-12-04T02:00:00Z", scopes: {} },
      function () { return pingan.indicators.state.latest !== null; }],
    counters: [{ dead_letters_added: 3 }, function () { return live.state.deadLetters === 3; }],
    grid_task: [{ task_id: "T1", kind: "alert", state: "assigned", grid: "G-01", created_at: "2026-12-04T02:00:00Z",
      on_scene_due: "2026-12-04T02:05:00Z" }, function () { return pingan.tasks.state.tasks.has("T1"); }],
    escalation: [{ escalation_id: "SV-1", level: "station", item_kind: "lead", item_id: "L1", facts: {}, labels: {},
      due_at: due, responded_at: null }, function () { return pingan.supervision.state.open.has("SV-1"); }],
    summary: [{ key: "2026-12-07", below: [] }, function () { return pingan.supervision.state.summary.key === "2026-12-07"; }],
    report: [{ kind: "daily", key: "2026-12-04", made_at: "2026-12-04T09:00:20Z", late: true }, function () {
      const note = p.window.document.querySelector(".report-notice.late");
      return note !== null && note.textContent.indexOf("每日任务完成报表（2026-12-04）补发送达 17:00:20（迟送）") === 0 &&
        note.querySelector("a").getAttribute("href") === "/reports/daily/2026-12-04";
    }],
  };
  const types = Object.values(pingan.EVENTS);
  assert.ok(types.length > 0);
  assert.deepEqual(types.slice().sort(), Object.keys(cases).sort(),
    "a new event type: give it a handler in pingan_live.js and a case here");
  types.forEach(function (type, i) {
    live.apply(batch(i + 1, i + 1 + "-0", [{ type: type, data: cases[type][0] }]), TEXTS);
    assert.ok(cases[type][1](), "no effect for " + type);
  });
});

test("instructions: the clock is ok, amber in the last fifth, red past due, done once reported", function () {
  const { live } = livePage();
  const issued = Date.parse("2026-12-04T02:00:00Z");
  const ins = { state: "en_route", issued_at: "2026-12-04T02:00:00Z", arrival_due: "2026-12-04T02:10:00Z" };
  const at = function (seconds) { const c = live.clockOf(ins, issued + seconds * 1000); return [c.level, c.left]; };
  assert.deepEqual(at(0), ["ok", 600]);
  assert.deepEqual(at(480), ["ok", 120]);       // exactly a fifth left: still ok
  assert.deepEqual(at(481), ["amber", 119]);
  assert.deepEqual(at(600), ["amber", 0]);
  assert.deepEqual(at(601), ["red", -1]);
  assert.deepEqual(at(3600), ["red", -3000]);
  const reported = Object.assign({}, ins, { state: "result_reported" });
  assert.equal(live.clockOf(reported, issued + 3600 * 1000).level, "done");
  assert.equal(live.clockOf(reported, issued + 3600 * 1000).left, null);
});

test("instructions on scene run against the result deadline, from arrival", function () {
  const { live } = livePage();
  const ins = { state: "on_scene", issued_at: "2026-12-04T02:00:00Z", arrival_due: "2026-12-04T02:10:00Z",
    on_scene_at: "2026-12-04T02:20:00Z", result_due: "2026-12-04T03:20:00Z" };
  const clock = function (iso) { const c = live.clockOf(ins, Date.parse(iso)); return [c.level, c.left]; };
  assert.deepEqual(clock("2026-12-04T02:30:00Z"), ["ok", 3000]);  // arrival was late, but that is past
  assert.deepEqual(clock("2026-12-04T03:08:00Z"), ["ok", 720]);   // 12 of 60 minutes left: a fifth
  assert.deepEqual(clock("2026-12-04T03:09:00Z"), ["amber", 660]);
  assert.deepEqual(clock("2026-12-04T03:20:01Z"), ["red", -1]);
});

test("the instructions list shows breached work first", function () {
  const { p, live } = livePage();
  const window = p.window;
  live.apply(batch(1, "1-0", [
    { type: "instruction", data: { instruction_id: "I-ok", incident_id: "E1", unit_id: "U1", state: "issued",
      issued_at: "2026-12-04T01:55:00Z", arrival_due: "2026-12-04T02:25:00Z" } },
    { type: "instruction", data: { instruction_id: "I-red", incident_id: "E2", unit_id: "U2", state: "en_route",
      issued_at: "2026-12-04T01:40:00Z", arrival_due: "2026-12-04T01:50:00Z" } },
    { type: "instruction", data: { instruction_id: "I-amber", incident_id: "E3", unit_id: "U3", state: "received",
      issued_at: "2026-12-04T01:51:00Z", arrival_due: "2026-12-04T02:01:00Z" } },
    { type: "instruction", data: { instruction_id: "I-closed", incident_id: "E4", unit_id: "U4", state: "closed" } },
  ]), TEXTS);
  window.dash_clientside.callback_context.triggered = [{ prop_id: "live-batch.data-batch" }];
  live.update(batch(2, "2-0"), 0, true, null, TEXTS);
  const rows = Array.from(p.document.querySelectorAll("#instructions li[data-instruction-id]"));
  assert.deepEqual(rows.map(function (li) { return li.getAttribute("data-instruction-id"); }), ["I-red", "I-amber", "I-ok"]);
  assert.deepEqual(rows.map(function (li) { return li.querySelector(".instr-clock").textContent; }),
    ["+10:00", "1:00", "25:00"]);
});
