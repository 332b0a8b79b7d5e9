/* The risk heatmap's colours and the leads board, driven by pushed events (pingan_live.js feeds it).
 *
 * Grades arrive after each risk run (``risk_grades``); the grid layer is recoloured by
 * changing its hideout only, at most once a second. Leads arrive as they are created or
 * change state; open ones are listed with their countdowns, overdue ones red and first.
 * Text from data is always set with textContent.
 */
(function () {
  "use strict";
  const COLOURS = { high: "#ff5252", medium: "#ffb300" };
  const VERSION_EVERY_MS = 1000;
  const state = {
    grades: {},            // window -> {grid: grade} (low grids are absent)
    leads: new Map(),      // lead_id -> payload (open ones)
    texts: null, version: 0, versionSentAt: 0, versionDirty: false, density: null,
  };

  // Catalogue text and safe elements: shared with the live layer (window.pingan.dom, pingan_live.js).
  function t(key, values) { return window.pingan.dom.text(state.texts, key, values); }
  function el(tag, className, text) { return window.pingan.dom.el(tag, className, text); }

  function hhmm(seconds) {
    const s = Math.abs(Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(s % 60).padStart(2, "0");
  }

  function act(lead, action, result) {
    window.dash_clientside.set_props(state.texts.leadActionId,
      { data: { lead_id: lead.lead_id, action: action, result: result || "", nonce: Date.now() } });
  }

  function row(lead, now) {
    const left = (Date.parse(lead.deadline) - now) / 1000;
    const li = el("li", "lead lead-" + lead.level + (left < 0 ? " overdue" : ""));
    li.setAttribute("data-lead-id", lead.lead_id);
    li.setAttribute("data-state", lead.state);
    const head = el("div", "lead-head");
    head.appendChild(el("span", "lead-rule", t("leads.rule." + lead.rule)));
    head.appendChild(el("span", "lead-level", t("lead.level." + lead.level)));
    head.appendChild(el("span", "lead-clock", left < 0 ? t("leads.overdue", { time: hhmm(-left) }) : hhmm(left)));
    li.appendChild(head);
    li.appendChild(el("div", "lead-summary", lead.summary));
    li.appendChild(el("div", "lead-target", t("lead.target." + lead.target) + " · " + lead.recipient + " · " +
      t("lead.state." + lead.state) + " · " + t("leads.evidence", { count: (lead.evidence || []).length })));
    li.appendChild(el("div", "lead-suggestion", lead.suggestion));
    if (state.texts.canHandleLeads) {
      const actions = el("div", "lead-actions");
      if (lead.state === "pushed") {
        const ack = el("button", "btn small lead-ack", t("leads.ack"));
        ack.addEventListener("click", function () { act(lead, "ack"); });
        actions.appendChild(ack);
      }
      const result = el("input", "lead-result");
      result.placeholder = t("leads.result_placeholder");
      result.maxLength = 500;
      actions.appendChild(result);
      ["useful", "not_useful"].forEach(function (kind) {
        const button = el("button", "btn small lead-" + kind, t("leads." + kind));
        button.addEventListener("click", function () { act(lead, kind, result.value); });
        actions.appendChild(button);
      });
      li.appendChild(actions);
    }
    if (state.texts.canOpenMediation && state.texts.mediationRules.indexOf(lead.rule) >= 0 &&
        lead.state !== "handled") {
      const mediate = el("a", "btn small lead-mediate", t("dispatch.mediate"));
      mediate.href = state.texts.urls.mediationNew + "?lead=" + encodeURIComponent(lead.lead_id);
      mediate.target = "_blank";
      mediate.rel = "noopener";
      li.appendChild(mediate);
    }
    return li;
  }

  function render() {
    const now = window.pingan.clock.now();  // the countdowns run on the server's time
    flushVersion(Date.now());  // the big screen has grades to colour but no leads board
    const list = state.texts && document.getElementById(state.texts.leadListId);
    if (!list) { return; }
    // Keep the officer's half-typed result: rebuild only rows whose state or clock bucket changed.
    const rows = Array.from(state.leads.values()).sort(function (a, b) {
      const lateA = Date.parse(a.deadline) < now, lateB = Date.parse(b.deadline) < now;
      return (lateB - lateA) || (a.level === b.level ? 0 : (a.level === "high" ? -1 : 1)) ||
        (Date.parse(a.deadline) - Date.parse(b.deadline));
    });
    const existing = new Map(Array.from(list.querySelectorAll("li[data-lead-id]")).map(function (li) {
      return [li.getAttribute("data-lead-id"), li];
    }));
    const fragment = document.createDocumentFragment();
    rows.forEach(function (lead) {
      const old = existing.get(lead.lead_id);
      const focused = old && old.contains(document.activeElement);
      if (old && (focused || old.getAttribute("data-state") === lead.state)) {
        const left = (Date.parse(lead.deadline) - now) / 1000;
        old.querySelector(".lead-clock").textContent = left < 0 ? t("leads.overdue", { time: hhmm(-left) }) : hhmm(left);
        old.classList.toggle("overdue", left < 0);
        fragment.appendChild(old);
      } else {
        fragment.appendChild(row(lead, now));
      }
    });
    if (!rows.length) { fragment.appendChild(el("li", "empty-hint", t("leads.empty"))); }
    list.replaceChildren(fragment);
  }

  function flushVersion(now) {
    if (!state.texts || !state.versionDirty || now - state.versionSentAt < VERSION_EVERY_MS) { return; }
    state.versionDirty = false;
    state.versionSentAt = now;
    state.version += 1;
    window.dash_clientside.set_props(state.texts.riskVersionId, { data: state.version });
  }

  window.pingan = Object.assign({}, window.pingan, {
    risk: {
      state: state,
      setTexts: function (texts) { state.texts = texts; },
      grades: function (payload) { state.grades = payload.grades || {}; state.versionDirty = true; },
      lead: function (lead) {
        if (lead.state === "handled") { state.leads.delete(lead.lead_id); } else { state.leads.set(lead.lead_id, lead); }
      },
      snapshot: function (grades, leads) {
        state.grades = grades || {};
        state.versionDirty = true;
        state.leads.clear();
        (leads || []).forEach(function (lead) { state.leads.set(lead.lead_id, lead); });
      },
      render: render,
      // The grid layer's hideout with this window's colours (everything else in it kept).
      hideout: function (windowName, hideout) {
        const fill = {};
        const graded = state.grades[windowName] || {};
        Object.keys(graded).forEach(function (grid) { fill[grid] = COLOURS[graded[grid]]; });
        return Object.assign({}, hideout, { fill: fill });
      },
      densityPoint: function (feature, latlng) {
        state.density = state.density || L.canvas({ padding: 0.2 });
        return L.circleMarker(latlng, { renderer: state.density, radius: 3, stroke: false, fillColor: "#ff7043",
          fillOpacity: 0.25, interactive: false });
      },
    },
  });
})();
