/* The supervision board: open escalations (late items on a station chief's or the district's list),
 * driven by pushed events (pingan_live.js feeds it). An escalation leaves the board when it is answered;
 * the board says when its item has since been done. The wall's overdue list asks levelOf() to mark
 * what has been escalated. Facts that are codes name their catalogue key (payload.labels), so the page
 * describes an item exactly as /supervision does (supervision/service.py: describe). */
(function () {
  "use strict";
  const KEPT = 500;
  const RANK = { district: 0, station: 1 };
  const state = { open: new Map(), texts: null, renderedKey: null, summary: null, summaryKey: null };

  function t(key, values) { return window.pingan.dom.text(state.texts, key, values); }
  function el(tag, className, text) { return window.pingan.dom.el(tag, className, text); }

  function describe(e) {
    const facts = Object.assign({}, e.facts);
    Object.keys(e.labels || {}).forEach(function (name) { facts[name] = t(e.labels[name]); });
    return t("supervision.what." + e.item_kind, facts);
  }

  function update(e) {
    if (e.responded_at) { state.open.delete(e.escalation_id); return; }
    state.open.set(e.escalation_id, e);
    while (state.open.size > KEPT) { state.open.delete(state.open.keys().next().value); }
  }

  // The highest open level an item has been escalated to ("district", "station"), or null.
  function levelOf(itemId) {
    let found = null;
    state.open.forEach(function (e) {
      if (e.item_id === itemId && (found === null || RANK[e.level] < RANK[found])) { found = e.level; }
    });
    return found;
  }

  function lateText(seconds) {
    const minutes = Math.max(0, Math.floor(seconds / 60));
    const hours = Math.floor(minutes / 60);
    return "+" + (hours ? hours + ":" + String(minutes % 60).padStart(2, "0") : minutes + "′");
  }

  function ordered() {
    return Array.from(state.open.values()).sort(function (a, b) {
      return RANK[a.level] - RANK[b.level] || Date.parse(a.due_at) - Date.parse(b.due_at) ||
        (a.escalation_id < b.escalation_id ? -1 : 1);
    });
  }

  function row(e, now) {
    const li = el("li", "escalation " + e.level + (e.cleared_at ? " cleared" : ""));
    li.setAttribute("data-escalation-id", e.escalation_id);
    li.setAttribute("data-item-id", e.item_id);
    const link = el("a", "escalation-level", t("supervision.level." + e.level));
    link.href = state.texts.urls.supervision + "#" + e.escalation_id;
    li.appendChild(link);
    li.appendChild(el("span", "escalation-what", describe(e)));
    li.appendChild(el("span", "escalation-late", e.cleared_at ? t("supervision.item.done")
      : lateText((now - Date.parse(e.due_at)) / 1000)));
    li.appendChild(el("span", "escalation-where", (e.station || "") + (e.grid ? " · " + e.grid : "")));
    return li;
  }

  function pct(rate) { return rate === null || rate === undefined ? "—" : (Math.floor(rate * 1000 + 0.5) / 10) + "%"; }

  // Why a station is below target (supervision/weekly.py: reason_text).
  function reasonText(reason) {
    if (reason.what === "disposal") {
      return t("summary.reason.disposal", { level: t("lead.level." + reason.level), rate: pct(reason.rate),
        target: pct(reason.target), handled: reason.handled, created: reason.created });
    }
    return t("summary.reason.calls", { this: reason.this, last: reason.last, change: "+" + pct(reason.change) });
  }

  // The week's Monday summary above the board: who is below target and why (a station chief: their own only).
  function renderSummary() {
    const box = state.texts && document.getElementById(state.texts.supervisionSummaryId);
    const s = state.summary;
    const key = s ? s.key + JSON.stringify(s.below) : "";
    if (!box || key === state.summaryKey) { return; }
    state.summaryKey = key;
    box.hidden = !s;
    if (!s) { box.replaceChildren(); return; }
    const fragment = document.createDocumentFragment();
    const head = el("div", "summary-head", t(s.below.length ? "summary.notice" : "summary.notice.none",
      { monday: s.key, count: s.below.length }));
    if (state.texts.canReadReports) {
      const link = el("a", "summary-open", t("summary.notice.open"));
      link.href = state.texts.urls.report.replace("<kind>", "summary").replace("<key>", s.key);
      head.appendChild(link);
    }
    fragment.appendChild(head);
    s.below.forEach(function (b) {
      const line = el("div", "summary-below");
      line.setAttribute("data-station", b.station);
      line.appendChild(el("span", "summary-station", (state.texts.stations || {})[b.station] || b.station));
      line.appendChild(el("span", "summary-reasons", b.reasons.map(reasonText).join("；")));
      fragment.appendChild(line);
    });
    box.replaceChildren(fragment);
  }

  function render() {
    renderSummary();
    const list = state.texts && document.getElementById(state.texts.supervisionListId);
    if (!list) { return; }
    const now = window.pingan.clock.now();
    const items = ordered();
    const key = items.map(function (e) {
      return e.escalation_id + (e.cleared_at ? "c" : lateText((now - Date.parse(e.due_at)) / 1000));
    }).join("|");
    if (key === state.renderedKey) { return; }
    state.renderedKey = key;
    const fragment = document.createDocumentFragment();
    items.forEach(function (e) { fragment.appendChild(row(e, now)); });
    if (!items.length) { fragment.appendChild(el("li", "empty-hint", t("supervision.board.empty"))); }
    list.replaceChildren(fragment);
    const count = document.getElementById(state.texts.supervisionCountId);
    if (count) { count.textContent = String(items.length); }
  }

  window.pingan = Object.assign({}, window.pingan, {
    supervision: {
      state: state,
      setTexts: function (texts) { state.texts = texts; },
      update: update,
      snapshot: function (list) { state.open.clear(); (list || []).forEach(update); state.renderedKey = null; },
      render: render,
      summary: function (s) { state.summary = s; },
      levelOf: levelOf,
      describe: describe,
    },
  });
})();
