/* The command-hall big screen (layouts/screen.py): nobody touches it, it runs for days.
 *
 * Batches are applied by the live layer (pingan_live.js, `live.apply`), which keeps every
 * collection bounded; this script only draws, once a second, from that state: the freshness
 * of the feed, the newest urgent event, what is overdue and the latest incidents; the grid tasks'
 * markers (pingan_map.js) follow each batch. Tiles and charts are redrawn when new indicators arrive.
 * All outside text is set as text. */
(function () {
  const TICKER_ROWS = 8;
  const OVERDUE_ROWS = 9;
  const FRESH_MS = 10 * 60 * 1000;  // the newest urgent event pulses for its first ten minutes
  const state = { outputs: {}, keys: {}, tilesVersion: -1 };
  const CLOCK = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
    day: "2-digit", weekday: "short", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

  function NO() { return window.dash_clientside.no_update; }
  function t(texts, key, values) { return window.pingan.dom.text(texts, key, values); }
  function el(tag, className, content) { return window.pingan.dom.el(tag, className, content); }
  function live() { return window.pingan.live; }
  function clock() { return window.pingan.clock; }

  // Plotly's type grows with the wall: 1.6x a desk's at 1080 lines, twice that at 2160.
  function scale() { return 1.6 * Math.max(1, window.innerHeight / 1080); }

  function changed(key, value) {
    if (state.outputs[key] === value) { return NO(); }
    state.outputs[key] = value;
    return value;
  }

  // Redraw a list only when what it shows changed (the wall's DOM stays the same size for days).
  function redraw(id, key, build) {
    const box = document.getElementById(id);
    if (!box || state.keys[id] === key) { return; }
    state.keys[id] = key;
    box.replaceChildren(build());
  }

  function late(seconds) {
    const m = Math.floor(seconds / 60);
    return "+" + m + ":" + String(Math.floor(seconds % 60)).padStart(2, "0");
  }

  // The whole district fills the map at any size of wall (a resize keeps Leaflet's zoom otherwise).
  function fitMap(texts) {
    const map = window.pingan.map && window.pingan.map.leaflet;
    const size = window.innerWidth + "x" + window.innerHeight;
    if (!map || state.fittedTo === size) { return; }
    state.fittedTo = size;
    map.invalidateSize();
    map.fitBounds(texts.districtBounds);
  }

  // The newest urgent incident (priority 1) or high-risk sensor alert of the last URGENT_RECENT_S (a setting):
  // an old one is history, not news, and the banner stays away when there is none.
  function newest(texts, now) {
    const since = now - texts.urgentRecentS * 1000;
    let best = null;
    live().state.incidents.forEach(function (item) {
      const d = item.data;
      const at = Date.parse(d.reported_at);
      if (d.priority === 1 && at >= since && (!best || at > best.at)) { best = { kind: "incident", at: at, d: d }; }
    });
    window.pingan.alerts.state.open.forEach(function (a) {
      const at = Date.parse(a.received_at);
      // Risk 1 is the highest (data/scenarios.json): a fight, weapons among minors, smoke.
      if (a.risk === 1 && at >= since && (!best || at > best.at)) { best = { kind: "alert", at: at, d: a }; }
    });
    return best;
  }

  function renderNewest(texts, now) {
    const box = document.getElementById(texts.screenNewestId);
    if (!box) { return; }
    const n = newest(texts, now);
    const minutes = n ? Math.floor((now - n.at) / 60000) : 0;
    const key = n ? n.d.event_id + ":" + minutes : "";
    if (state.keys.newest === key) { return; }
    state.keys.newest = key;
    box.hidden = !n;
    if (!n) { return; }
    box.className = "screen-newest " + n.kind + (now - n.at < FRESH_MS ? " fresh" : "");
    const what = n.kind === "incident" ? t(texts, "category." + n.d.category) : t(texts, "scenario." + n.d.scenario);
    const where = n.kind === "incident" ? n.d.address : [n.d.compound, n.d.building].filter(Boolean).join(" ");
    box.replaceChildren(
      el("div", "screen-newest-label", t(texts, "screen.newest." + n.kind)),
      el("div", "screen-newest-what", clock().when(n.at) + "  " + what),
      el("div", "screen-newest-where", (where || "") + " · " + (n.d.grid || "")),
      el("div", "screen-newest-age", t(texts, "screen.ago", { minutes: minutes })));
  }

  function gridOf(incidentId) {
    const item = live().state.incidents.get(incidentId);
    return item ? item.data.grid : "";
  }

  const ONLY_ESCALATED = { revisit: true, notice: true };  // kinds the wall has no live list of its own

  function overdueItems(texts, now) {
    const items = [];
    live().state.instructions.forEach(function (ins) {
      const due = live().clockOf(ins, now);
      if (due.level === "red") {
        items.push({ id: ins.instruction_id, late: -due.left, kind: "instruction",
          text: t(texts, "screen.overdue.instruction", { unit: ins.unit_id, step: t(texts, "state." + ins.state) }),
          where: gridOf(ins.incident_id) });
      }
    });
    window.pingan.alerts.state.open.forEach(function (a) {
      const seconds = (now - Date.parse(a.verify_due)) / 1000;
      if (seconds > 0) {
        items.push({ id: a.event_id, late: seconds, kind: "alert",
          text: t(texts, "screen.overdue.alert", { what: t(texts, "scenario." + a.scenario) }), where: a.grid || "" });
      }
    });
    // Grid workers' tasks whose running clock is red (the hall's list's own clock: pingan_tasks.js).
    window.pingan.tasks.state.tasks.forEach(function (task) {
      const running = window.pingan.tasks.clockOf(task, now);
      if (running.level === "red") {
        items.push({ id: task.task_id, late: -running.left, kind: "grid-task",
          text: t(texts, "screen.overdue.task", { worker: task.worker, step: t(texts, "tasks.step." + running.step) }),
          where: task.grid || "" });
      }
    });
    window.pingan.risk.state.leads.forEach(function (lead) {
      const seconds = (now - Date.parse(lead.deadline)) / 1000;
      if (seconds > 0) {
        items.push({ id: lead.lead_id, late: seconds, kind: "lead " + lead.level,
          text: t(texts, "screen.overdue.lead", { level: t(texts, "lead.level." + lead.level) }), where: lead.grid || "" });
      }
    });
    // A source gone quiet (no 110 call kept for half an hour, no heartbeat for ten minutes): the feed itself is late.
    window.pingan.indicators.silent().forEach(function (q) {
      const quietS = (now - Date.parse(q.last_at)) / 1000;
      items.push({ id: "silent-" + q.source, late: quietS - q.limit_s, kind: "silent",
        text: t(texts, "screen.overdue.silent", { source: t(texts, "source." + q.source),
          minutes: Math.floor(quietS / 60) }), where: t(texts, "screen.overdue.silent.where") });
    });
    // What only supervision follows (a return visit, a rectification notice): on the list once it is escalated.
    const seen = {};
    window.pingan.supervision.state.open.forEach(function (e) {
      if (!ONLY_ESCALATED[e.item_kind] || e.cleared_at || seen[e.item_id]) { return; }
      seen[e.item_id] = true;
      items.push({ id: e.item_id, late: (now - Date.parse(e.due_at)) / 1000, kind: "escalated " + e.item_kind,
        text: window.pingan.supervision.describe(e), where: (texts.stations || {})[e.station] || e.station || "" });
    });
    return items.sort(function (a, b) { return b.late - a.late; });
  }

  function renderOverdue(texts, now) {
    const items = overdueItems(texts, now);
    const shown = items.slice(0, OVERDUE_ROWS);
    const key = items.length + "|" + shown.map(function (i) {
      return i.id + ":" + Math.floor(i.late) + ":" + (window.pingan.supervision.levelOf(i.id) || "");
    }).join("|");
    redraw(texts.screenOverdueId, key, function () {
      const fragment = document.createDocumentFragment();
      shown.forEach(function (i) {
        const row = el("li", "overdue-item " + i.kind);
        row.appendChild(el("span", "overdue-late", late(i.late)));
        const what = el("span", "overdue-text", i.text);
        // Escalated by supervision: to its station chief, or further to the district (a tag before what).
        const escalated = window.pingan.supervision.levelOf(i.id);
        if (escalated) { what.prepend(el("span", "overdue-escalated " + escalated, t(texts, "supervision.level." + escalated))); }
        row.appendChild(what);
        row.appendChild(el("span", "overdue-where", i.where));
        fragment.appendChild(row);
      });
      if (items.length > shown.length) {
        fragment.appendChild(el("li", "overdue-more", t(texts, "screen.overdue.more", { count: items.length - shown.length })));
      }
      if (!items.length) { fragment.appendChild(el("li", "overdue-none", t(texts, "screen.overdue.none"))); }
      return fragment;
    });
  }

  function renderTicker(texts) {
    const all = Array.from(live().state.incidents.values()).slice(-TICKER_ROWS).reverse();
    const key = all.map(function (item) { return item.data.event_id + ":" + item.data.status; }).join("|");
    redraw(texts.screenTickerId, key, function () {
      const fragment = document.createDocumentFragment();
      all.forEach(function (item) {
        const d = item.data;
        const row = el("li", "ticker-item p" + d.priority);
        row.appendChild(el("span", "ticker-time", clock().when(d.reported_at)));
        row.appendChild(el("span", "ticker-cat", t(texts, "category." + d.category)));
        row.appendChild(el("span", "ticker-address", d.address));
        fragment.appendChild(row);
      });
      return fragment;
    });
  }

  window.pingan = Object.assign({}, window.pingan, {
    screen: {
      state: state,
      update: function (batch, _tick, connected, texts) {
        if (!texts) { return [NO(), NO(), NO()]; }
        window.pingan.tasks.setTexts(texts);  // the amber share the server names
        const triggered = (window.dash_clientside.callback_context.triggered || []).map(function (x) { return x.prop_id; });
        const isBatch = triggered.some(function (p) { return p.indexOf("data-batch") >= 0; });
        if (batch && isBatch) { live().apply(batch, texts); window.pingan.map.syncTasks(texts); }
        if (isBatch && triggered.length === 1) { return [NO(), NO(), NO()]; }
        // Once a second: the clocks run, deadlines pass, the feed may go stale.
        const now = clock().now();
        live().apply(null, texts);
        live().trimDashHistory();
        window.pingan.alerts.render();  // device health to the map
        window.pingan.risk.render();  // new grades to the heatmap
        fitMap(texts);
        window.pingan.map.syncTasks(texts);  // the tasks' clocks turn amber, then red
        renderNewest(texts, now);
        window.pingan.video.setTexts(texts);
        window.pingan.video.follow(newest(texts, now));  // the scene video follows the banner's event
        renderOverdue(texts, now);
        renderTicker(texts);
        const status = live().statusOf(connected);
        const root = document.getElementById(texts.screenRootId);
        if (root) { root.classList.toggle("stale", status[0] !== "live"); }
        return [changed("feed", status[1]), changed("feedClass", "screen-feed " + status[0]),
                changed("clock", CLOCK.format(new Date(now)))];
      },
      charts: function (_version, texts) {
        const indicators = window.pingan.indicators;
        const f = texts && indicators.scope(texts.districtScope);
        if (!f) { return [NO(), NO()]; }
        indicators.fillTiles(texts.screenTilesId, f, texts);
        const k = scale();
        return [indicators.gaugeFigure(f, texts, k, false), indicators.trendFigure(f, texts, k)];
      },
    },
  });
})();
