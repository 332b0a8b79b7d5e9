// Loads the real page scripts (assets/*.js) into a fresh jsdom window whose clocks and timers
// the test drives: Date.now(), performance.now(), setTimeout and setInterval are fakes, so no
// test sleeps and every time is explicit. Not a test file itself (the runner takes *.test.js).
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const { JSDOM } = require("jsdom");

const ASSETS = path.join(__dirname, "..", "..", "assets");
// Dash loads assets/ in alphabetical order; so does the harness (pingan_events.js before pingan_live.js).
const ALL = fs.readdirSync(ASSETS).filter(function (name) { return name.endsWith(".js"); }).sort();

// A page with the given body. `options.now` is the desk's Date.now() at load (ms since the epoch).
function page(body, options) {
  const opts = options || {};
  const dom = new JSDOM("<!doctype html><html><body>" + (body || "") + "</body></html>", {
    runScripts: "outside-only", url: opts.url || "https://pingan.test/command",
  });
  const window = dom.window;
  const time = { date: opts.now === undefined ? Date.UTC(2026, 11, 4, 2, 0, 0) : opts.now, perf: 0 };
  const timers = [];
  let nextId = 1;

  window.Date.now = function () { return time.date; };
  Object.defineProperty(window, "performance", {
    configurable: true, writable: true,
    value: { now: function () { return time.perf; }, timeOrigin: 0 },
  });
  window.setTimeout = function (fn, ms) {
    const id = nextId++;
    timers.push({ id: id, fn: fn, at: time.date + (ms || 0), every: null });
    return id;
  };
  window.setInterval = function (fn, ms) {
    const id = nextId++;
    timers.push({ id: id, fn: fn, at: time.date + ms, every: ms });
    return id;
  };
  window.clearTimeout = window.clearInterval = function (id) {
    const i = timers.findIndex(function (timer) { return timer.id === id; });
    if (i >= 0) { timers.splice(i, 1); }
  };
  // jsdom has no CSS.escape; the live layer uses it to find a feed row by event id.
  window.CSS = { escape: function (s) { return String(s).replace(/["\\]/g, "\\$&"); } };

  // Dash's clientside bridge: set_props calls are recorded.
  const props = [];
  window.dash_clientside = {
    no_update: { no_update: true },
    callback_context: { triggered: [] },
    set_props: function (id, value) { props.push([id, value]); },
  };

  function load(names) {
    (names || ALL).forEach(function (name) {
      const file = path.join(ASSETS, name);
      new vm.Script(fs.readFileSync(file, "utf8"), { filename: file }).runInContext(dom.getInternalVMContext());
    });
    return window.pingan;
  }

  return {
    window: window,
    document: window.document,
    pingan: function () { return window.pingan; },
    load: load,
    props: props,
    timers: timers,
    // Advance the desk's wall clock and the page's monotonic clock together, running due timers.
    advance: function (ms) {
      const until = time.date + ms;
      for (;;) {
        const due = timers.filter(function (timer) { return timer.at <= until; })
          .sort(function (a, b) { return a.at - b.at; })[0];
        if (!due) { break; }
        time.perf += due.at - time.date;
        time.date = due.at;
        if (due.every) { due.at += due.every; } else { timers.splice(timers.indexOf(due), 1); }
        due.fn();
      }
      time.perf += until - time.date;
      time.date = until;
    },
    // Run the timers already due (setTimeout(fn, 0)) without moving the clocks.
    flush: function () { this.advance(0); },
    time: time,
  };
}

// Let pending promise callbacks run (microtasks only: no timer, no sleep).
async function settle() {
  for (let i = 0; i < 10; i++) { await Promise.resolve(); }
}

module.exports = { page: page, settle: settle, ALL: ALL };
