// pingan_alerts.js: the sensor-alert queue. Protects which cards the duty officer sees (overdue
// first, then by risk, then the oldest; four at most, the rest only counted), that every alert
// stays until its verdict, and the device-health colours sent to the map at most once a second.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { page } = require("./harness");

const NOW = "2026-12-04T02:00:00Z";
const TEXTS = { text: {}, alertListId: "alerts", alertQueueId: "queue", deviceLayerId: "devices", canVerify: false };

function alertsPage() {
  const p = page('<div id="queue"><ul id="alerts"></ul></div>', { now: Date.parse(NOW) });
  p.load();
  const alerts = p.pingan().alerts;
  p.pingan().clock.sync({ now_ms: Date.parse(NOW), speed: 1 });
  alerts.setTexts(TEXTS);
  return { p: p, alerts: alerts };
}

// An alert received `agoS` seconds before NOW with a one-minute verification budget.
function alert(id, risk, agoS) {
  const received = Date.parse(NOW) - agoS * 1000;
  return { kind: "alert", event_id: id, risk: risk, scenario: "smoke", device_type: "smoke", device_id: "D-" + id,
    grid: "G-01", received_at: new Date(received).toISOString(), verify_due: new Date(received + 60000).toISOString() };
}

function cards(p) {
  return Array.from(p.document.querySelectorAll("#alerts li"), function (li) {
    return [li.getAttribute("data-event-id"), li.querySelector(".alert-clock").textContent];
  });
}

test("the queue shows overdue alerts first, then by risk, then the oldest, four at most", function () {
  const { p, alerts } = alertsPage();
  alerts.add(alert("low-old", 3, 50));
  alerts.add(alert("high-new", 1, 5));
  alerts.add(alert("late-low", 3, 90));
  alerts.add(alert("high-old", 1, 20));
  alerts.add(alert("medium", 2, 10));
  alerts.add({ kind: "fault", event_id: "F1", device_id: "D9" });  // faults need no verdict
  alerts.render();
  assert.deepEqual(cards(p), [["late-low", "alert.overdue"], ["high-old", "40s"], ["high-new", "55s"], ["medium", "50s"]]);
  assert.equal(alerts.shown(), 4);
  assert.equal(alerts.state.open.size, 5);
  assert.ok(p.document.getElementById("queue").classList.contains("has-alerts"));
  alerts.verified({ event_id: "late-low" });
  alerts.render();
  assert.deepEqual(cards(p).map(function (c) { return c[0]; }), ["high-old", "high-new", "medium", "low-old"]);
});

test("every alert waits for its verdict; only a flood past a thousand drops the oldest", function () {
  const { alerts } = alertsPage();
  for (let i = 0; i < 1001; i++) { alerts.add(alert("A" + i, 2, 1)); }
  assert.equal(alerts.state.open.size, 1000);
  assert.equal(alerts.state.open.has("A0"), false);
  assert.equal(alerts.state.open.has("A1000"), true);
});

test("device health goes to the map's hideout at most once a second", function () {
  const { p, alerts } = alertsPage();
  alerts.health({ device_id: "D1", health: "offline" });
  alerts.render();
  alerts.health({ device_id: "D2", health: "faulty" });
  alerts.render();  // the same second: held back
  p.advance(1000);
  alerts.health({ device_id: "D1", health: "online" });
  alerts.render();
  assert.deepEqual(JSON.parse(JSON.stringify(p.props)), [
    ["devices", { hideout: { health: { D1: "offline" } } }],
    ["devices", { hideout: { health: { D2: "faulty" } } }],
  ]);
});

test("many devices changing at once replace the whole health map, sent to the map once", function () {
  const { p, alerts } = alertsPage();
  alerts.health({ device_id: "D1", health: "offline" });
  alerts.healthAll({ D2: "awaiting", D3: "faulty" });  // D1 is online again: it is not in the map
  alerts.render();
  assert.deepEqual(JSON.parse(JSON.stringify(p.props)), [
    ["devices", { hideout: { health: { D2: "awaiting", D3: "faulty" } } }],
  ]);
});

test("a card says when the grid worker and property manager already have the SMS", function () {
  const { p, alerts } = alertsPage();
  alerts.add(Object.assign(alert("told", 1, 5), { grid_told: true }));
  alerts.add(alert("quiet", 2, 5));
  alerts.render();
  const told = Array.from(p.document.querySelectorAll("#alerts li"), function (li) {
    const line = li.querySelector(".alert-told");
    return [li.getAttribute("data-event-id"), line ? line.textContent : null];
  });
  assert.deepEqual(told, [["told", "alert.told"], ["quiet", null]]);
});
