// pingan_indicators.js: the chiefs' tiles and gauges are drawn from the server's figures
// (indicators/compute.py), never counted in the page. Protects the tiles' data-figure hooks and
// values, the colour of a rate against its target, and the gauges the period has figures for.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { page } = require("./harness");

const TEXTS = {
  text: { "ind.incidents": "今日警情", "ind.change.none": "无对比",
    "ind.revisits.detail": "到期 {due} · 逾期 {overdue} · 满意 {satisfied} · 重新交办 {reopened}" },
  districtScope: "district", screenTilesId: "tiles",
  indicatorTargets: { arrival_on_time: 1.0, result_on_time: 1.0, result_minutes: 15.0, lead_disposal: 1.0,
    verify_on_time: 1.0, completeness: 0.95 },
};

function figures(extra) {
  return Object.assign({
    incidents: { count: 42, comparison: 30, change: 0.4, by_category: { theft: 20, fraud: 22 },
      trend: [1, 0, 3], trend_comparison: [2, 2, 0] },
    repeat: { incidents: 6, places: 2, threshold: 3 },
    instructions: { open: 5, overdue: 0, breaches: 1 },
    queue: { unverified: 3, overdue: 1 },
    leads: { pending: 4, late: 0, disposal_rate: 0.5 },
    arrival: { median_min: 4.25, p90_min: 9, on_time: 0.95, histogram: [0, 1], count: 1 },
    result: { median_min: null, p90_min: null, on_time: null, histogram: [0], count: 0 },
    verification: { rate: 1.0, due: 3, within: 3 },
    completeness: { rate: 0.9 },
    devices: { rate: 0.991 },
    grid_tasks: { open: 3, overdue: 1, breaches: 2, on_scene_on_time: 0.75 },
    revisits: { due: 8, made: 5, on_time: 4, overdue: 2, coverage: 0.5, satisfaction: 0.8, reopen_rate: 0.2 },
  }, extra || {});
}

function indicatorsPage() {
  const p = page('<div id="tiles"></div>');
  p.load();
  return { p: p, indicators: p.pingan().indicators };
}

function tiles(p) {
  return Array.from(p.document.querySelectorAll("#tiles .ind-tile")).map(function (node) {
    return {
      figure: node.getAttribute("data-figure"),
      level: node.className.replace("ind-tile ", ""),
      value: node.querySelector(".ind-tile-value").textContent,
    };
  });
}

test("the tiles carry data-figure and the server's values", function () {
  const { p, indicators } = indicatorsPage();
  indicators.fillTiles("tiles", figures(), TEXTS, true);  // the chiefs' panel
  const shown = tiles(p);
  assert.deepEqual(shown.slice(0, 6).map(function (x) { return [x.figure, x.value, x.level]; }), [
    ["incidents", "42", "warn"],   // 40% above the comparison
    ["repeat", "6", "warn"],       // two repeat places
    ["open", "5", "warn"],         // a breach, nothing overdue
    ["unverified", "3", "bad"],    // an alert overdue
    ["pending", "4", "ok"],
    ["grid-tasks", "3", "bad"],    // a grid worker's task past its clock
  ]);
  assert.equal(p.document.querySelector('[data-figure="incidents"] .ind-tile-label').textContent, "今日警情");
  // Durations in minutes to one decimal, "–" without any; rates as percentages against their targets.
  assert.deepEqual(shown.slice(6).map(function (x) { return [x.value, x.level]; }), [
    ["4.3", "warn"], ["–", "neutral"],
    ["95%", "warn"], ["–", "neutral"], ["50%", "bad"], ["100%", "ok"], ["90%", "warn"], ["99.1%", "neutral"],
    ["50%", "bad"],  // return visits: half made by their due time, two overdue
  ]);
  assert.equal(p.document.querySelector('[data-figure="revisits"] .ind-tile-detail').textContent,
    "到期 8 · 逾期 2 · 满意 80% · 重新交办 20%");
});

test("no devices tile for a period without live health; a waiting hint without figures", function () {
  const { p, indicators } = indicatorsPage();
  indicators.fillTiles("tiles", figures({ devices: null }), TEXTS);
  assert.equal(tiles(p).length, 13);  // the wall's: no return-visit tile either
  indicators.fillTiles("tiles", null, TEXTS);
  assert.equal(tiles(p).length, 0);
  assert.equal(p.document.querySelector("#tiles .empty-hint").textContent, "ind.waiting");
});

test("a pushed indicators event is kept and bumps the version store", function () {
  const { p, indicators } = indicatorsPage();
  indicators.set({ asof: "2026-12-04T02:00:00Z", scopes: { district: figures() } }, "indicator-version");
  indicators.set(null, "indicator-version");  // nothing pushed: nothing changes
  assert.equal(indicators.state.version, 1);
  assert.deepEqual(JSON.parse(JSON.stringify(p.props)), [["indicator-version", { data: 1 }]]);
  assert.equal(indicators.scope("district").incidents.count, 42);
  assert.equal(indicators.scope("PS-09").incidents.count, 42);  // an unknown scope falls back to the first
});

test("the gauges: one per rate, coloured against the target, the devices gauge only with health", function () {
  const { indicators } = indicatorsPage();
  const gauges = indicators.gaugeFigure(figures(), TEXTS, 1, true);
  // Array.from: the page's arrays belong to its own realm, which deepEqual tells apart.
  assert.deepEqual(Array.from(gauges.data, function (g) { return g.value; }), [95, null, 50, 100, 90, 99.1]);
  assert.deepEqual(Array.from(gauges.data, function (g) { return g.gauge.bar.color; }),
    ["#ffb300", "#4fc3f7", "#ff5252", "#00e676", "#ffb300", "#4fc3f7"]);
  assert.equal(gauges.data[4].gauge.threshold.value, 95);
  assert.equal(gauges.data[5].gauge.threshold, undefined);  // no target for devices
  assert.equal(indicators.gaugeFigure(figures({ devices: null }), TEXTS, 1, true).data.length, 5);
});
