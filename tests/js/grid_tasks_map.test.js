// pingan_map.js (grid tasks on the map) and pingan_screen.js (the wall's overdue list). Protects: one marker per
// open task with a site, its class from the list's own clock (pingan_tasks.js clockOf: one amber/red rule), moved
// and restyled by later events, gone once finished; tooltip lines as text; and overdue grid tasks on the wall,
// ordered with the instructions by lateness.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { page } = require("./harness");

const NOW = Date.parse("2026-12-04T02:00:00Z");
const TEXTS = {
  urls: { subscribe: "/live/subscribe", ack: "/live/ack" },
  text: { "tasks.kind.alert": "告警核查", "tasks.kind.hazard": "隐患整改", "tasks.state.assigned": "待接收",
    "tasks.state.accepted": "已接收", "tasks.state.on_scene": "已到场", "tasks.step.on_scene": "到场",
    "tasks.step.result": "反馈", "screen.overdue.task": "网格任务 · {worker} {step}超时",
    "screen.overdue.instruction": "{unit} {step} 超时", "state.en_route": "赶赴中" },
  amberFrom: 0.8, taskListId: "tasks",
  screenOverdueId: "overdue", screenNewestId: "newest", screenTickerId: "ticker", screenRootId: "screen",
  districtScope: "district", staleAfterS: 60, urgentRecentS: 3600,
  clock: { now_ms: NOW, speed: 1 },
};

function iso(ms) { return new Date(ms).toISOString(); }

// A task made `agoS` seconds before NOW with a five-minute on-scene clock, at a site unless told otherwise.
function alertTask(id, agoS, extra) {
  const made = NOW - agoS * 1000;
  return Object.assign({ task_id: id, kind: "alert", state: "assigned", grid: "SC-001", worker: "陈伟",
    summary: "烟感 0.31", lon: 112.43, lat: 39.33, created_at: iso(made), on_scene_due: iso(made + 300000),
    result_due: null, on_scene_at: null }, extra || {});
}

// Just enough of Leaflet: markers that record where they are, and a layer group that holds them.
function fakeLeaflet(window) {
  window.L = {
    divIcon: function (options) { return options; },
    marker: function (latlng, options) {
      return {
        latlng: latlng, options: options, z: 0, tooltip: null,
        addTo: function (group) { group.addLayer(this); return this; },
        setLatLng: function (ll) { this.latlng = ll; },
        setZIndexOffset: function (z) { this.z = z; },
        bindTooltip: function (content) { this.tooltip = content; },
        isTooltipOpen: function () { return false; },
      };
    },
  };
  return { layers: new Set(), addLayer: function (l) { this.layers.add(l); }, removeLayer: function (l) { this.layers.delete(l); } };
}

function mapPage() {
  const p = page("", { now: NOW });
  const group = fakeLeaflet(p.window);
  p.load(["pingan_clock.js", "pingan_events.js", "pingan_live.js", "pingan_map.js", "pingan_tasks.js"]);
  const pingan = p.pingan();
  pingan.clock.sync(TEXTS.clock);
  pingan.tasks.setTexts(TEXTS);
  pingan.map.taskLayerAdded({ target: group });  // the overlay's layer group, added to the map
  const pins = function () {
    return Array.from(group.layers, function (m) {
      return [m.options.icon.html.getAttribute("data-task-id"), m.options.icon.html.className];
    }).sort();
  };
  return { p: p, pingan: pingan, group: group, pins: pins };
}

test("open tasks with a site are drawn in their clock's colour and state; finished ones leave", function () {
  const { p, pingan, group, pins } = mapPage();
  pingan.tasks.update(alertTask("fresh", 10));
  pingan.tasks.update(alertTask("amber", 250));  // more than 4 of its 5 minutes gone
  pingan.tasks.update(alertTask("late", 310, { state: "accepted" }));
  pingan.tasks.update(alertTask("nowhere", 10, { lon: null, lat: null }));
  pingan.map.syncTasks(TEXTS);
  assert.deepEqual(pins(), [["amber", "task-pin amber state-assigned"], ["fresh", "task-pin ok state-assigned"],
    ["late", "task-pin red state-accepted"]]);

  // The clocks run: a minute later the fresh one is still green, the amber one late.
  p.advance(60000);
  pingan.map.syncTasks(TEXTS);
  assert.deepEqual(pins(), [["amber", "task-pin red state-assigned"], ["fresh", "task-pin ok state-assigned"],
    ["late", "task-pin red state-accepted"]]);

  // A later event: on scene somewhere else (the marker moves, the hour for the result runs); others finish.
  const marker = Array.from(group.layers).find(function (m) { return m.options.icon.html.getAttribute("data-task-id") === "late"; });
  pingan.tasks.update(alertTask("late", 370, { state: "on_scene", on_scene_at: iso(NOW), result_due: iso(NOW + 3600000),
    lon: 112.44, lat: 39.34 }));
  pingan.tasks.update(alertTask("fresh", 70, { state: "reported", reported_at: iso(NOW + 60000) }));
  pingan.tasks.update(alertTask("amber", 310, { state: "withdrawn", ended_at: iso(NOW + 60000) }));
  pingan.map.syncTasks(TEXTS);
  assert.deepEqual(pins(), [["late", "task-pin ok state-on_scene"]]);
  assert.deepEqual(Array.from(marker.latlng), [39.34, 112.44]);  // an array from the page's realm
  assert.ok(group.layers.has(marker));  // moved and restyled in place, not redrawn
});

test("the tooltip: id, kind, summary as text, worker and grid, state, step and clock", function () {
  const { p, pingan, group } = mapPage();
  pingan.tasks.update(alertTask("GT-1", 250, { summary: "<img src=x onerror=alert(1)>" }));
  pingan.map.syncTasks(TEXTS);
  const [marker] = Array.from(group.layers);
  const tip = marker.tooltip();
  assert.deepEqual(Array.from(tip.children, function (n) { return n.textContent; }),
    ["GT-1  告警核查", "<img src=x onerror=alert(1)>", "陈伟 · SC-001", "待接收 · 到场  0:50"]);
  assert.equal(tip.className, "task-tooltip amber");
  assert.equal(tip.querySelector("img"), null);
  assert.equal(p.document.querySelector("img"), null);
});

test("before the map adds the layer nothing is drawn; once it does, what is open appears", function () {
  const p = page("", { now: NOW });
  const group = fakeLeaflet(p.window);
  p.load(["pingan_clock.js", "pingan_events.js", "pingan_live.js", "pingan_map.js", "pingan_tasks.js"]);
  const pingan = p.pingan();
  pingan.clock.sync(TEXTS.clock);
  pingan.tasks.update(alertTask("early", 10));
  pingan.map.tasksChanged(TEXTS);
  p.flush();
  assert.equal(group.layers.size, 0);
  pingan.map.taskLayerAdded({ target: group });
  assert.equal(group.layers.size, 1);
  pingan.map.taskLayerAdded({ target: group });  // switched off and on again: its markers came along
  assert.equal(group.layers.size, 1);
});

test("the wall's overdue list: red grid tasks with the instructions, the latest first", function () {
  const p = page('<div id="screen"><div id="newest" hidden></div><ul id="overdue"></ul><ul id="ticker"></ul></div>',
    { now: NOW });
  fakeLeaflet(p.window);
  p.load();
  p.window.pingan.auth = { post: function () { return Promise.resolve({}); }, check: function (r) { return r; } };
  const pingan = p.pingan();
  pingan.live.onSocket("sid-1", true);
  pingan.live.apply({ seq: 1, last_id: "1-0", clock: TEXTS.clock, events: [
    { type: "incident", data: { event_id: "E1", priority: 2, category: "fire", status: "new", grid: "G-07",
      address: "a", reported_at: "2026-12-04T01:30:00Z" } },
    { type: "instruction", data: { instruction_id: "I1", incident_id: "E1", unit_id: "U1", state: "en_route",
      issued_at: "2026-12-04T01:40:00Z", arrival_due: "2026-12-04T01:57:00Z" } },  // three minutes late
    { type: "grid_task", data: alertTask("T-LATE", 600) },  // five minutes late
    { type: "grid_task", data: alertTask("T-AMBER", 250) },  // not yet
    { type: "grid_task", data: alertTask("T-DONE", 900, { state: "reported", reported_at: iso(NOW - 60000) }) },
  ] }, TEXTS);
  pingan.screen.update(null, 1, true, TEXTS);
  const rows = Array.from(p.document.querySelectorAll("#overdue li"), function (li) {
    return [li.className, li.querySelector(".overdue-late").textContent, li.querySelector(".overdue-text").textContent,
      li.querySelector(".overdue-where").textContent];
  });
  assert.deepEqual(rows, [["overdue-item grid-task", "+5:00", "网格任务 · 陈伟 到场超时", "SC-001"],
    ["overdue-item instruction", "+3:00", "U1 赶赴中 超时", "G-07"]]);
});
