// pingan_risk.js: the leads board. Protects the way a dispute lead reaches the mediation centre: its card
// links to the triage form with the lead's id, only for a viewer who may open a case, only for the rules
// whose disputes mediation takes.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { page } = require("./harness");

const NOW = "2026-12-07T01:00:00Z";

function board(canOpenMediation) {
  const p = page('<ol id="leads"></ol>', { now: Date.parse(NOW) });
  p.load();
  const pingan = p.pingan();
  pingan.risk.setTexts({
    text: { "dispatch.mediate": "转调解（分流评估）", "leads.rule.family_repeat": "家庭纠纷反复报警",
      "leads.rule.growth": "警情增长" },
    leadListId: "leads", leadActionId: "lead-action", riskVersionId: "risk-version", canHandleLeads: false,
    canOpenMediation: canOpenMediation, mediationRules: ["bride_price", "family_repeat"],
    urls: { mediationNew: "/mediation/new" }, clock: { now_ms: Date.parse(NOW), speed: 1 },
  });
  function lead(id, rule) {
    return { lead_id: id, rule: rule, level: "high", state: "pushed", deadline: "2026-12-07T02:00:00Z",
      summary: "同一住户一周内三次报警", target: "station", recipient: "PS-01", evidence: ["E1"], suggestion: "走访" };
  }
  pingan.risk.lead(lead("L-1&x", "family_repeat"));
  pingan.risk.lead(lead("L-2", "growth"));
  pingan.risk.render();
  return p;
}

function links(p) {
  return Array.from(p.document.querySelectorAll("#leads li")).map(function (li) {
    const link = li.querySelector("a.lead-mediate");
    return [li.getAttribute("data-lead-id"), link ? link.getAttribute("href") : null];
  });
}

test("a dispute lead links to the triage form with its id; another rule's does not", function () {
  assert.deepEqual(links(board(true)), [["L-1&x", "/mediation/new?lead=L-1%26x"], ["L-2", null]]);
});

test("a viewer who may not open a case gets no link", function () {
  assert.deepEqual(links(board(false)), [["L-1&x", null], ["L-2", null]]);
});
