// pingan_supervision.js: the hall's supervision board and the wall's escalation marks. Protects the
// board's order (the district's first, then by deadline), the item described from its facts and their
// catalogue labels, an answered escalation leaving the board, and the wall marking escalated items.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { page } = require("./harness");

const NOW = "2026-12-04T02:00:00Z";
const TEXTS = {
  urls: { subscribe: "/live/subscribe", ack: "/live/ack", supervision: "/supervision" },
  text: {
    "supervision.level.station": "所长督办", "supervision.level.district": "区局督办",
    "supervision.what.instruction": "{unit} {step}超时（警情 {incident}）", "supervision.step.arrival": "到场",
    "supervision.what.lead": "{level}线索超期未处置（{rule}）", "lead.level.high": "高风险",
    "leads.rule.repeat_caller": "重复报警", "supervision.item.done": "已办结", "supervision.board.empty": "暂无",
  },
  supervisionListId: "sv-list", supervisionCountId: "sv-count", screenOverdueId: "overdue",
  screenNewestId: "newest", screenTickerId: "ticker", screenRootId: "screen", districtScope: "district",
  staleAfterS: 60, urgentRecentS: 3600, clock: { now_ms: Date.parse(NOW), speed: 1 },
};

function escalation(id, level, kind, itemId, due, extra) {
  const facts = kind === "lead" ? { level: "high", rule: "repeat_caller", target: "station" }
    : { unit: "U1", step: "arrival", incident: "E1" };
  const labels = kind === "lead" ? { level: "lead.level.high", rule: "leads.rule.repeat_caller" }
    : { step: "supervision.step.arrival" };
  return { type: "escalation", data: Object.assign({ escalation_id: id, level: level, item_kind: kind, item_id: itemId,
    station: "PS-01", grid: "SC-001", facts: facts, labels: labels, due_at: due, raised_at: NOW, cleared_at: null,
    response: null, responded_by: null, responded_at: null }, extra || {}) };
}

function hall() {
  const p = page('<span id="sv-count"></span><ol id="sv-list"></ol>' +
    '<div id="screen"><div id="newest" hidden></div><ul id="overdue"></ul><ul id="ticker"></ul></div>',
  { now: Date.parse(NOW) });
  p.load();
  p.window.pingan.auth = { post: function () { return Promise.resolve({}); }, check: function (r) { return r; } };
  const pingan = p.pingan();
  pingan.live.onSocket("sid-1", true);
  pingan.supervision.setTexts(TEXTS);
  let seq = 0;
  return {
    p: p, pingan: pingan,
    push: function (events) {
      seq += 1;
      pingan.live.apply({ seq: seq, last_id: seq + "-0", events: events, clock: TEXTS.clock }, TEXTS);
      pingan.supervision.render();
    },
  };
}

function board(p) {
  return Array.from(p.document.querySelectorAll("#sv-list li")).map(function (li) {
    return li.className === "empty-hint" ? [li.textContent] : [li.getAttribute("data-escalation-id"),
      li.querySelector(".escalation-level").textContent, li.querySelector(".escalation-what").textContent,
      li.querySelector(".escalation-late").textContent];
  });
}

test("the board: the district's first, then by deadline; items described; answered ones leave", function () {
  const { p, push } = hall();
  push([
    escalation("SV-1", "station", "instruction", "I1", "2026-12-04T01:45:00Z"),
    escalation("SV-2", "station", "lead", "L1", "2026-12-04T00:00:00Z"),
    escalation("SV-3", "district", "instruction", "I9", "2026-12-04T01:20:00Z"),
  ]);
  assert.deepEqual(board(p), [
    ["SV-3", "区局督办", "U1 到场超时（警情 E1）", "+40′"],
    ["SV-2", "所长督办", "高风险线索超期未处置（重复报警）", "+2:00"],
    ["SV-1", "所长督办", "U1 到场超时（警情 E1）", "+15′"],
  ]);
  assert.equal(p.document.getElementById("sv-count").textContent, "3");
  assert.equal(p.document.querySelector("#sv-list a").getAttribute("href"), "/supervision#SV-3");
  // The lead was handled (the escalation stays until answered); then the station answers both.
  push([escalation("SV-2", "station", "lead", "L1", "2026-12-04T00:00:00Z", { cleared_at: NOW })]);
  assert.equal(board(p)[1][3], "已办结");
  push([escalation("SV-2", "station", "lead", "L1", "2026-12-04T00:00:00Z", { responded_at: NOW, response: "已处置" }),
    escalation("SV-3", "district", "instruction", "I9", "2026-12-04T01:20:00Z", { responded_at: NOW, response: "x" })]);
  assert.deepEqual(board(p).map(function (r) { return r[0]; }), ["SV-1"]);
  push([escalation("SV-1", "station", "instruction", "I1", "2026-12-04T01:45:00Z", { responded_at: NOW, response: "x" })]);
  assert.deepEqual(board(p), [["暂无"]]);
});

test("a page's snapshot replaces the board", function () {
  const { p, pingan, push } = hall();
  push([escalation("SV-1", "station", "instruction", "I1", "2026-12-04T01:45:00Z")]);
  pingan.supervision.snapshot([escalation("SV-7", "district", "lead", "L7", "2026-12-04T01:00:00Z").data]);
  pingan.supervision.render();
  assert.deepEqual(board(p).map(function (r) { return r[0]; }), ["SV-7"]);
});

test("the wall marks an overdue item with the highest level it was escalated to", function () {
  const { p, pingan, push } = hall();
  push([
    { type: "incident", data: { event_id: "E1", priority: 2, category: "fire", status: "new", grid: "SC-001",
      address: "a", reported_at: "2026-12-04T01:30:00Z" } },
    { type: "instruction", data: { instruction_id: "I1", incident_id: "E1", unit_id: "U1", state: "issued",
      issued_at: "2026-12-04T01:30:00Z", arrival_due: "2026-12-04T01:35:00Z" } },
    { type: "instruction", data: { instruction_id: "I2", incident_id: "E1", unit_id: "U2", state: "issued",
      issued_at: "2026-12-04T01:50:00Z", arrival_due: "2026-12-04T01:55:00Z" } },
    escalation("SV-1", "station", "instruction", "I1", "2026-12-04T01:35:00Z"),
    escalation("SV-2", "district", "instruction", "I1", "2026-12-04T01:35:00Z"),
  ]);
  pingan.screen.update(null, 1, true, TEXTS);
  const marks = Array.from(p.document.querySelectorAll("#overdue li"), function (li) {
    const mark = li.querySelector(".overdue-escalated");
    return [li.querySelector(".overdue-late").textContent, mark ? mark.textContent : ""];
  });
  assert.deepEqual(marks, [["+25:00", "区局督办"], ["+5:00", ""]]);
});
