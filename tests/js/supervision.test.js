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

test("an empty board says so from the start", function () {
  const { p, pingan } = hall();
  pingan.supervision.render();
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

test("the week's Monday summary heads the board: who is below target and why, with the report's link", function () {
  const { p, pingan } = hall();
  const texts = Object.assign({}, TEXTS, {
    supervisionSummaryId: "sv-summary", canReadReports: true, stations: { "PS-01": "城东派出所" },
    urls: Object.assign({}, TEXTS.urls, { report: "/reports/<kind>/<key>" }),
    text: Object.assign({}, TEXTS.text, { "summary.notice": "{monday} 周一督办通报：{count} 个派出所未达标",
      "summary.notice.open": "查看通报", "summary.reason.disposal": "{level}线索处置率 {rate}（{handled}/{created}，目标 {target}）",
      "summary.reason.calls": "警情 {this} 起，上周 {last} 起（{change}）" }),
  });
  const box = p.document.createElement("div");
  box.id = "sv-summary";
  box.hidden = true;
  p.document.body.appendChild(box);
  pingan.supervision.setTexts(texts);
  pingan.live.apply({ seq: 1, last_id: "1-0", clock: TEXTS.clock, events: [{ type: "summary", data: {
    key: "2026-12-07", below: [{ station: "PS-01", reasons: [
      { what: "disposal", level: "high", rate: 0.75, target: 1, handled: 3, created: 4 },
      { what: "calls", this: 40, last: 30, change: 1 / 3 }] }] } }] }, texts);
  pingan.supervision.render();
  assert.equal(box.hidden, false);
  assert.equal(box.querySelector(".summary-head").firstChild.textContent, "2026-12-07 周一督办通报：1 个派出所未达标");
  assert.equal(box.querySelector(".summary-open").getAttribute("href"), "/reports/summary/2026-12-07");
  assert.equal(box.querySelector(".summary-station").textContent, "城东派出所");
  assert.equal(box.querySelector(".summary-reasons").textContent,
    "高风险线索处置率 75%（3/4，目标 100%）；警情 40 起，上周 30 起（+33.3%）");
});

test("the wall lists a late rectification notice once supervision has escalated it", function () {
  const { p, pingan, push } = hall();
  const texts = Object.assign({}, TEXTS, { stations: { "PS-02": "城西派出所" },
    text: Object.assign({}, TEXTS.text, { "supervision.what.notice": "整改通知逾期未办结（{unit}：{standard}）" }) });
  push([{ type: "escalation", data: { escalation_id: "SV-9", level: "station", item_kind: "notice", item_id: "RN-1",
    station: "PS-02", grid: null, facts: { unit: "社区警务队", standard: "高风险线索处置率 75%" }, labels: {},
    due_at: "2026-12-04T01:00:00Z", raised_at: "2026-12-04T01:00:00Z", cleared_at: null, responded_at: null } }]);
  pingan.supervision.setTexts(texts);
  pingan.screen.update(null, 1, true, texts);
  const rows = Array.from(p.document.querySelectorAll("#overdue li"), function (li) {
    return [li.className, li.querySelector(".overdue-late").textContent, li.querySelector(".overdue-text").textContent,
      li.querySelector(".overdue-where").textContent];
  });
  assert.deepEqual(rows, [["overdue-item escalated notice", "+60:00",
    "所长督办整改通知逾期未办结（社区警务队：高风险线索处置率 75%）", "城西派出所"]]);
});
