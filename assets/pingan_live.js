/* The live page: applies pushed batches, acknowledges them, draws markers and the feed.
 *
 * Protocol (see push/hub.py): the server sends one batch at a time
 * {seq, try, from, last_id, events, snapshot?}; the page applies it and POSTs an ack,
 * which releases the next batch. seq <= last: a resend, ack again; seq > last + 1: a gap,
 * re-subscribe from the last applied stream id.
 *
 * Work per batch is proportional to the batch: each new incident adds one canvas marker and
 * one feed row; a unit moves its marker; nothing is rebuilt. Dash outputs are only the few
 * small texts that change. All outside text is set with textContent, never as HTML.
 *
 * Event types are window.pingan.EVENTS (generated from bus/events.py); figures shown in more
 * than one place (today's incidents, breaches, unverified alerts, pending leads) are the
 * server's (indicators/compute.py, pushed with the indicators), never counted here. */
(function () {
  const FEED_LIMIT = 100;
  const MARKER_LIMIT = 500;
  const ALERT_SHOW_MS = 5 * 60 * 1000;
  const PULSE_AT_MOST = 5;
  const PULSE_MS = 4000;
  const LIVE_PANE = "pingan-live";
  const CATEGORY_COLOURS = {
    neighbour_dispute: "#ffb74d", family_dispute: "#ff8a65", wage_arrears: "#ffd54f", bride_price: "#f06292",
    noise: "#9575cd", theft: "#4dd0e1", fraud: "#4db6ac", traffic: "#64b5f6", fight: "#ff5252",
    fire: "#ff3d00", medical: "#81c784", other: "#b0bec5",
  };
  const UNIT_COLOURS = { available: "#00e676", busy: "#ffab00", off: "#78909c" };
  const NO = function () { return window.dash_clientside.no_update; };

  const state = {
    sid: null, seq: 0, lastId: null, lastEventAt: null, connectedAt: null, shown: 0,
    incidents: new Map(),   // event_id -> {data, marker}
    units: new Map(),       // unit_id -> {data, marker}
    alerts: new Map(),      // event_id -> {data, marker, at}
    instructions: new Map(),  // instruction_id -> payload (open ones)
    deadLetters: 0, layers: null, texts: null, outputs: {},
  };
  const TERMINAL = { closed: 1, cancelled: 1, reassigned: 1 };
  const FINISHED = { closed: 1, diverted_12345: 1 };  // incidents no longer on the board's open list
  const REASSIGNABLE = { issued: 1, received: 1, en_route: 1 };
  const AMBER_FRACTION = 0.2;
  const DASH_HISTORY_KEPT = 5;

  function post(url, body) {
    // pingan_auth.js adds the CSRF header and leaves for the sign-in page when the session is over.
    const auth = window.pingan.auth;
    return auth.post(url, body).then(auth.check)
      .catch(function () { /* the hub re-sends; a new connection re-subscribes */ });
  }

  // The socket may connect before the page's settings (and so the server's URLs) reach this script.
  function subscribe() {
    state.subscribeWanted = !state.texts;
    if (state.sid && state.texts) { post(state.texts.urls.subscribe, { sid: state.sid, last_id: state.lastId }); }
  }

  function setTexts(texts) {
    state.texts = texts;
    if (state.subscribeWanted) { subscribe(); }
  }

  // A catalogue text with its {placeholders} filled (the page's texts come from i18n.py).
  function text(texts, key, values) {
    let s = (texts && texts.text && texts.text[key]) || key;
    Object.keys(values || {}).forEach(function (k) { s = s.replace("{" + k + "}", values[k]); });
    return s;
  }

  function t(key, values) { return text(state.texts, key, values); }

  // Every element built from data goes through here: text is set as text, never as HTML.
  function el(tag, className, content) {
    const node = document.createElement(tag);
    if (className) { node.className = className; }
    if (content !== undefined && content !== null) { node.textContent = String(content); }
    return node;
  }

  function clock() { return window.pingan.clock; }

  // "迟报 · 3 天前": an incident that reached the centre long after it was reported.
  function lateText(p) {
    const ago = clock().ago(p.reported_at);
    return t("feed.late", { ago: t("time.ago." + ago[1], { count: ago[0] }) });
  }

  // -- markers -----------------------------------------------------------------------------

  // Incidents are drawn on one canvas: adding one costs a small redraw, not a DOM subtree
  // with its own style, layout and compositing (measured: about half the latency at 100 ev/s).
  let canvas = null;
  function renderer() { return canvas || (canvas = L.canvas({ padding: 0.2, pane: LIVE_PANE })); }

  function tooltipLines(lines) {
    return function () {
      const root = el("div");
      lines().forEach(function (line) { root.appendChild(el("div", null, line)); });
      return root;
    };
  }

  function incidentStyle(p) {
    return {
      radius: { 1: 9, 2: 7, 3: 5 }[p.priority] || 6, color: "#ffffff", weight: 1.5,
      fillColor: CATEGORY_COLOURS[p.category] || "#b0bec5", fillOpacity: 0.95,
    };
  }

  function incidentMarker(p) {
    const marker = L.circleMarker([p.lat, p.lon], Object.assign({ renderer: renderer() }, incidentStyle(p)));
    marker.bindTooltip(tooltipLines(function () {
      return [p.event_id + "  " + p.grid + "  " + t("category." + p.category), p.address, p.description || ""];
    }), { className: "grid-tooltip", direction: "top" });
    marker.on("click", function () { selectIncident(p.event_id); });
    return marker;
  }

  function selectIncident(eventId, replaces) {
    if (!state.texts || !state.texts.canOpenIncident) { return; }
    // A plain click dispatches afresh; "reassign" carries the instruction being replaced.
    window.dash_clientside.set_props(state.texts.replacesStoreId, { data: replaces || null });
    window.dash_clientside.set_props(state.texts.incidentStoreId, { data: eventId });
  }

  function pulse(p, layer) {
    // A ring around a new incident for a few seconds: draws the eye without animating frames.
    const ring = L.circleMarker([p.lat, p.lon], {
      renderer: renderer(), radius: 15, color: "#ffffff", weight: 2, fill: false, interactive: false,
    }).addTo(layer);
    setTimeout(function () { layer.removeLayer(ring); }, PULSE_MS);
  }

  function recordDrawn(ids) {
    // Tests and benchmarks ask for the time each incident reached the screen.
    if (!state.drawn || !ids.length) { return; }
    requestAnimationFrame(function () {
      const now = performance.timeOrigin + performance.now();
      ids.forEach(function (id) { if (!state.drawn.has(id)) { state.drawn.set(id, now); } });
    });
  }

  // Patrol units: a small canvas dot coloured by status with a short line showing the heading.
  const HEADING_M = 300;

  function headingEnd(u) {
    const rad = (u.heading || 0) * Math.PI / 180;
    const dLat = HEADING_M * Math.cos(rad) / 110574;
    const dLon = HEADING_M * Math.sin(rad) / (111320 * Math.cos(u.lat * Math.PI / 180));
    return [u.lat + dLat, u.lon + dLon];
  }

  function unitMarker(u, layer) {
    const colour = UNIT_COLOURS[u.status] || "#ffffff";
    const dot = L.circleMarker([u.lat, u.lon], {
      renderer: renderer(), radius: 5, color: "#0b1a30", weight: 1.5, fillColor: colour, fillOpacity: 1,
    });
    const line = L.polyline([[u.lat, u.lon], headingEnd(u)], {
      renderer: renderer(), color: colour, weight: 2, interactive: false,
    });
    dot.bindTooltip(tooltipLines(function () {
      const d = state.units.get(u.unit_id).data;
      return [d.unit_id + "  " + t("unit." + d.status)];
    }), { className: "grid-tooltip", direction: "top" });
    const item = { dot: dot.addTo(layer), line: line.addTo(layer) };
    return item;
  }

  function moveUnit(item, u) {
    const colour = UNIT_COLOURS[u.status] || "#ffffff";
    item.dot.setLatLng([u.lat, u.lon]);
    item.dot.setStyle({ fillColor: colour });
    item.line.setLatLngs([[u.lat, u.lon], headingEnd(u)]);
    item.line.setStyle({ color: colour });
  }

  function alertMarker(a) {
    const ring = el("div", "alert-flash " + (a.kind === "fault" ? "fault" : "alert"));
    ring.setAttribute("data-event-id", a.event_id);
    const marker = L.marker([a.lat, a.lon], {
      icon: L.divIcon({ className: "alert-marker", html: ring, iconSize: [28, 28] }), keyboard: false,
    });
    marker.bindTooltip(tooltipLines(function () {
      const value = a.value === null || a.value === undefined ? "" : "  " + a.value;
      return [a.device_id + "  " + a.grid, t(a.kind === "fault" ? "alert.fault" : "scenario." + a.scenario) + value];
    }), { className: "grid-tooltip", direction: "top" });
    return marker;
  }

  function ensureLayers() {
    // The map exists once the grid layer has loaded; events that came earlier are drawn then.
    if (state.layers || !(window.pingan.map && window.pingan.map.leaflet)) { return state.layers; }
    const map = window.pingan.map.leaflet;
    // Above the grids (overlay pane, 400) so incidents get the pointer; below markers (600).
    map.createPane(LIVE_PANE).style.zIndex = 450;
    state.layers = {
      incidents: L.layerGroup().addTo(map), units: L.layerGroup().addTo(map), alerts: L.layerGroup().addTo(map),
    };
    state.incidents.forEach(function (item) { item.marker = incidentMarker(item.data).addTo(state.layers.incidents); });
    recordDrawn(Array.from(state.incidents.keys()));
    state.units.forEach(function (item) { item.marker = unitMarker(item.data, state.layers.units); });
    state.alerts.forEach(function (item) { item.marker = alertMarker(item.data).addTo(state.layers.alerts); });
    // The incidents' canvas covers the grids: a click on it that hits no marker still selects the grid below.
    map.on("click", function (e) {
      const target = e.originalEvent && e.originalEvent.target;
      if (!target || target.tagName !== "CANVAS" || !state.texts) { return; }
      const code = window.pingan.map.gridAt(e.latlng);
      if (code) {
        window.dash_clientside.set_props(state.texts.gridLayerId,
          { clickData: { type: "Feature", properties: { code: code }, nonce: Date.now() } });
      }
    });
    return state.layers;
  }

  // -- the feed (a plain DOM list Dash never re-renders) ---------------------------------------

  function feedRow(p) {
    const row = el("li", "feed-item p" + p.priority + " cat-" + p.category);
    row.setAttribute("data-event-id", p.event_id);
    row.appendChild(el("span", "feed-time", clock().when(p.reported_at)));
    if (p.late) { row.appendChild(el("span", "feed-late", lateText(p))); }
    row.appendChild(el("span", "feed-cat", t("category." + p.category)));
    row.appendChild(el("span", "feed-grid", p.grid));
    row.appendChild(el("span", "feed-status", t("status." + p.status)));
    row.appendChild(el("span", "feed-address", p.address));
    row.addEventListener("click", function () { selectIncident(p.event_id); });
    return row;
  }

  function feedList() { return state.texts ? document.getElementById(state.texts.feedId) : null; }

  function redrawFeed() {
    const list = feedList();
    if (!list) { return; }
    list.replaceChildren();
    const all = Array.from(state.incidents.values());
    for (let i = all.length - 1; i >= 0 && list.childElementCount < FEED_LIMIT; i--) { list.appendChild(feedRow(all[i].data)); }
    if (!all.length) { list.appendChild(el("li", "empty-hint", t("panel.feed.empty"))); }
  }

  function feedPrepend(rows) {
    const list = feedList();
    if (!list) { return; }
    const hint = list.querySelector(".empty-hint");
    if (hint) { hint.remove(); }
    const fragment = document.createDocumentFragment();
    for (let i = rows.length - 1; i >= 0; i--) { fragment.appendChild(feedRow(rows[i])); }
    list.insertBefore(fragment, list.firstChild);
    while (list.childElementCount > FEED_LIMIT) { list.lastChild.remove(); }
  }

  // -- applying events -----------------------------------------------------------------------

  // The page keeps MARKER_LIMIT incidents (a wall runs for days): the oldest finished ones go first, so an
  // incident still open stays on the board as long as there is room for it.
  function forgetOldest() {
    while (state.incidents.size > MARKER_LIMIT) {
      let victim = null;
      for (const [id, item] of state.incidents) {
        if (FINISHED[item.data.status]) { victim = id; break; }
      }
      if (victim === null) { victim = state.incidents.keys().next().value; }
      const item = state.incidents.get(victim);
      if (item.marker && state.layers) { state.layers.incidents.removeLayer(item.marker); }
      state.incidents.delete(victim);
    }
  }

  // What each live event does to the page (bus/events.py: Live; a test checks every type has a handler).
  const HANDLERS = (function () {
    const E = window.pingan.EVENTS;
    const handlers = {};
    handlers[E.INCIDENT] = function (d, added) {
      if (state.incidents.has(d.event_id)) { return; }  // already shown (e.g. in the snapshot)
      const item = { data: d, marker: null };
      if (state.layers) {
        item.marker = incidentMarker(d).addTo(state.layers.incidents);
        if (state.pulse) { pulse(d, state.layers.incidents); }
      }
      state.incidents.set(d.event_id, item);
      added.push(d);
    };
    handlers[E.INCIDENT_STATUS] = function (d) {
      const item = state.incidents.get(d.event_id);
      if (item) { item.data.status = d.status; }
      const list = feedList();
      const row = list && list.querySelector('[data-event-id="' + CSS.escape(d.event_id) + '"] .feed-status');
      if (row) { row.textContent = t("status." + d.status); }
      panelConcerns(d.event_id);
    };
    handlers[E.UNIT] = function (d) {
      const item = state.units.get(d.unit_id);
      if (item) {
        item.data = d;
        if (item.marker) { moveUnit(item.marker, d); }
      } else {
        state.units.set(d.unit_id, { data: d, marker: state.layers ? unitMarker(d, state.layers.units) : null });
      }
    };
    handlers[E.ALERT] = handlers[E.FAULT] = function (d) {
      window.pingan.alerts.add(d);  // the verification queue (pingan_alerts.js)
      if (state.alerts.has(d.event_id)) { return; }
      const marker = state.layers ? alertMarker(d).addTo(state.layers.alerts) : null;
      state.alerts.set(d.event_id, { data: d, marker: marker, at: Date.now() });  // flashes for a while on the map
    };
    handlers[E.ALERT_VERIFIED] = function (d) { window.pingan.alerts.verified(d); };
    handlers[E.DEVICE_HEALTH] = function (d) { window.pingan.alerts.health(d); };
    handlers[E.DEVICE_HEALTH_ALL] = function (d) { window.pingan.alerts.healthAll(d); };
    handlers[E.RISK_GRADES] = function (d) { window.pingan.risk.grades(d); };
    handlers[E.LEAD] = function (d) { window.pingan.risk.lead(d); };
    handlers[E.GRID_TASK] = function (d) { window.pingan.tasks.update(d); };
    handlers[E.ESCALATION] = function (d) { window.pingan.supervision.update(d); };
    handlers[E.SUMMARY] = function (d) { window.pingan.supervision.summary(d); };
    handlers[E.REPORT] = function (d) { reportNotice(d); };
    handlers[E.INDICATORS] = function (d) {
      window.pingan.indicators.set(d, state.texts && state.texts.indicatorVersionId);
    };
    handlers[E.COUNTERS] = function (d) { state.deadLetters += d.dead_letters_added || 0; };
    handlers[E.INSTRUCTION] = function (d) {
      if (TERMINAL[d.state]) { state.instructions.delete(d.instruction_id); } else { state.instructions.set(d.instruction_id, d); }
      state.instructionsDirty = true;
      panelConcerns(d.incident_id);
    };
    return handlers;
  })();

  // A scheduled report was delivered: a chief's page says so, with a link to it (and whether it came late).
  const REPORT_NOTICE_MS = 10 * 60 * 1000;
  function reportNotice(d) {
    const texts = state.texts;
    if (!texts || !texts.canReadReports) { return; }
    const old = document.querySelector(".report-notice");
    if (old) { old.remove(); }
    const made = new Date(d.made_at).toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
    const note = el("div", "report-notice" + (d.late ? " late" : ""),
      text(texts, d.late ? "report.notice.late" : "report.notice",
        { title: text(texts, "report." + d.kind + ".title"), key: d.key, time: made }));
    note.setAttribute("role", "status");
    note.setAttribute("data-kind", d.kind);
    note.setAttribute("data-key", d.key);
    const link = el("a", null, text(texts, "report.notice.open"));
    link.href = texts.urls.reportPage.replace("<kind>", encodeURIComponent(d.kind)).replace("<key>", encodeURIComponent(d.key));
    link.target = "_blank";
    link.rel = "noopener";
    note.appendChild(link);
    document.body.appendChild(note);
    setTimeout(function () { note.remove(); }, REPORT_NOTICE_MS);
  }

  function applyEvent(ev, added) {
    const handler = HANDLERS[ev.type];
    if (handler) { handler(ev.data, added); }
  }

  // The dispatch panel follows what happens to its incident: the server re-renders its state part.
  function panelConcerns(incidentId) {
    if (state.openIncident && incidentId === state.openIncident && state.texts && state.texts.panelRefreshId) {
      state.panelRefresh = (state.panelRefresh || 0) + 1;
      window.dash_clientside.set_props(state.texts.panelRefreshId, { data: state.panelRefresh });
    }
  }

  // -- open instructions and their clocks (run here, from the due times the server set) --------

  function clockOf(ins, now) {
    const onScene = ins.state === "on_scene";
    const start = Date.parse(onScene ? ins.on_scene_at : ins.issued_at);
    const due = Date.parse(onScene ? ins.result_due : ins.arrival_due);
    if (ins.state === "result_reported") { return { level: "done", left: null }; }
    const left = (due - now) / 1000;
    const level = left < 0 ? "red" : (left < (due - start) / 1000 * AMBER_FRACTION ? "amber" : "ok");
    return { level: level, left: left };
  }

  function mmss(seconds) {
    const s = Math.abs(Math.round(seconds));
    return (seconds < 0 ? "+" : "") + Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function actionButton(ins, action) {
    const button = el("button", "btn small", t("instructions." + action));
    button.addEventListener("click", function (e) {
      e.stopPropagation();
      if (action === "reassign") { selectIncident(ins.incident_id, ins.instruction_id); return; }
      window.dash_clientside.set_props(state.texts.actionStoreId,
        { data: { instruction_id: ins.instruction_id, action: action, nonce: Date.now() } });
    });
    return button;
  }

  function renderInstructions() {
    const list = state.texts && document.getElementById(state.texts.instructionsId);
    if (!list) { return; }
    const now = clock().now();
    const rank = { red: 0, amber: 1, ok: 2, done: 3 };
    const rows = Array.from(state.instructions.values()).map(function (ins) {
      return { ins: ins, clock: clockOf(ins, now) };
    });
    // Breached first, then about to breach, then by time left: overdue work rises to the top.
    rows.sort(function (a, b) {
      return rank[a.clock.level] - rank[b.clock.level] || (a.clock.left || 0) - (b.clock.left || 0);
    });
    const fragment = document.createDocumentFragment();
    rows.forEach(function (row) {
      const ins = row.ins;
      const li = el("li", "instr " + row.clock.level);
      li.setAttribute("data-instruction-id", ins.instruction_id);
      li.setAttribute("data-state", ins.state);
      li.appendChild(el("span", "instr-clock", row.clock.left === null ? "✓" : mmss(row.clock.left)));
      li.appendChild(el("span", "instr-unit", ins.unit_id));
      li.appendChild(el("span", "instr-state", t("state." + ins.state)));
      li.appendChild(el("span", "instr-incident", ins.incident_id));
      if (state.texts.canDispatch) {
        if (REASSIGNABLE[ins.state]) { li.appendChild(actionButton(ins, "reassign")); }
        li.appendChild(actionButton(ins, ins.state === "result_reported" ? "close" : "cancel"));
      }
      li.addEventListener("click", function () { selectIncident(ins.incident_id); });
      fragment.appendChild(li);
    });
    if (!rows.length) { fragment.appendChild(el("li", "empty-hint", t("instructions.empty"))); }
    list.replaceChildren(fragment);
  }

  function applySnapshot(snap) {
    if (state.layers) { Object.values(state.layers).forEach(function (layer) { layer.clearLayers(); }); }
    state.incidents.clear(); state.units.clear(); state.alerts.clear();
    const layers = state.layers;
    snap.incidents.forEach(function (p) {
      state.incidents.set(p.event_id, { data: p, marker: layers ? incidentMarker(p).addTo(layers.incidents) : null });
    });
    snap.units.forEach(function (u) {
      state.units.set(u.unit_id, { data: u, marker: null });
      if (layers) { state.units.get(u.unit_id).marker = unitMarker(u, layers.units); }
    });
    state.deadLetters = (snap.counters && snap.counters.dead_letters) || 0;
    state.instructions.clear();
    (snap.instructions || []).forEach(function (ins) { state.instructions.set(ins.instruction_id, ins); });
    state.instructionsDirty = true;
    window.pingan.alerts.snapshot(snap.alerts, snap.device_health);
    window.pingan.risk.snapshot(snap.risk_grades, snap.leads);
    window.pingan.tasks.snapshot(snap.grid_tasks);
    window.pingan.supervision.snapshot(snap.escalations);
    window.pingan.supervision.summary(snap.summary || null);
    window.pingan.indicators.set(snap.indicators, state.texts && state.texts.indicatorVersionId);
    forgetOldest();
    redrawFeed();
  }

  function expireAlerts() {
    const now = Date.now();
    state.alerts.forEach(function (item, id) {
      if (now - item.at > ALERT_SHOW_MS) {
        if (item.marker && state.layers) { state.layers.alerts.removeLayer(item.marker); }
        state.alerts.delete(id);
      }
    });
  }

  function handleBatch(batch) {
    clock().sync(batch.clock);
    if (batch.seq <= state.seq) {          // a resend of what we already applied
      post(state.texts.urls.ack, { sid: state.sid, seq: batch.seq });
      return false;
    }
    if (batch.seq > state.seq + 1) {        // a gap: ask again from what we have
      state.seq = 0;
      subscribe();
      return false;
    }
    const hadLayers = !!state.layers;
    ensureLayers();
    if (batch.snapshot) {
      applySnapshot(batch.snapshot);
      if (state.layers) { recordDrawn(Array.from(state.incidents.keys())); }
    }
    const added = [];
    // Pulsing draws the eye to a few new incidents; in a flood it would only cost frames.
    state.pulse = batch.events.length <= PULSE_AT_MOST;
    batch.events.forEach(function (ev) { applyEvent(ev, added); });
    if (added.length) { feedPrepend(added); }
    if (state.layers) { recordDrawn(added.map(function (d) { return d.event_id; })); }
    forgetOldest();
    // The feed is fresh while the field's events arrive; the server's own recomputed indicators
    // (sent every 30 s regardless) must not hide a stalled ingest.
    if (batch.events.some(function (ev) { return ev.type !== "indicators"; })) { state.lastEventAt = Date.now(); }
    state.seq = batch.seq;
    state.lastId = batch.last_id;
    // Incident events applied (each once: a resent batch is not applied again).
    state.shown += batch.events.filter(function (ev) { return ev.type === "incident"; }).length;
    if (!hadLayers && state.layers && !batch.snapshot) { redrawFeed(); }
    // Acknowledge once this task is done, not after a paint (rAF halves throughput under load).
    setTimeout(function () { post(state.texts.urls.ack, { sid: state.sid, seq: batch.seq }); }, 0);
    return true;
  }

  // Dash's renderer records every input change for its undo button (hidden here) and never forgets
  // one (plotly/dash#727): every pushed batch would stay in memory, 14 MB in 30 minutes on the wall.
  // Its error recovery only needs the last entries; nothing else reads them.
  function trimDashHistory() {
    (window.dash_stores || []).forEach(function (store) {
      const history = store.getState().history;
      if (history && history.past.length > DASH_HISTORY_KEPT) {
        history.past.splice(0, history.past.length - DASH_HISTORY_KEPT);
      }
    });
  }

  function statusOf(connected) {
    if (!connected) {
      return state.connectedAt === null ? ["connecting", t("live.status.connecting")] : ["reconnecting", t("live.status.reconnecting")];
    }
    // Silent since connecting counts too: a page opened while the ingest is down must not say "live".
    const since = state.lastEventAt === null ? state.connectedAt : state.lastEventAt;
    const idle = since === null ? 0 : (Date.now() - since) / 1000;
    if (idle > state.texts.staleAfterS) { return ["stale", t("live.status.stale", { seconds: Math.round(idle) })]; }
    return ["live", t("live.status.live")];
  }

  function gridCount(selected) {
    if (!selected) { return ""; }
    let n = 0;
    state.incidents.forEach(function (item) {
      if (item.data.grid === selected && clock().isToday(item.data.reported_at)) { n++; }
    });
    return t("live.grid_today") + ": " + t("live.grid_today.value", { count: n });
  }

  // The header's figures are the server's (the same numbers as the chiefs' panel, the wall and the reports).
  function figureTexts() {
    const f = window.pingan.indicators.scope(state.texts.districtScope);
    if (!f) { return { count: "", breaches: "", alerts: "", alertBreaches: "", leads: "" }; }
    const unverified = f.queue ? f.queue.unverified : 0;
    const shown = window.pingan.alerts.shown();
    return {
      count: t("panel.feed.count", { count: f.incidents.count }),
      breaches: t("instructions.breaches", { count: f.instructions.breaches }),
      alerts: unverified ? t("alert.queue.count", { count: unverified }) +
        (unverified > shown ? " · " + t("alert.queue.more", { count: unverified - shown }) : "") : "",
      alertBreaches: t("alert.breaches", { count: f.verification.due - f.verification.within }),
      leads: f.leads.pending ? t("leads.count", { count: f.leads.pending }) : "",
    };
  }

  function changed(key, value) {
    // Dash outputs only when a text really changed: every output costs a render.
    if (state.outputs[key] === value) { return NO(); }
    state.outputs[key] = value;
    return value;
  }

  window.pingan = Object.assign({}, window.pingan, {
    dom: { text: text, el: el },
    live: {
      state: state,
      onSocket: function (socketId, connected) {
        if (connected && socketId && socketId !== state.sid) {
          state.sid = socketId;
          state.seq = 0;  // sequence numbers are per connection
          state.connectedAt = Date.now();
          subscribe();
        }
      },
      update: function (batch, _tick, connected, selected, texts) {
        setTexts(texts);
        if (clock().state.serverMs === null) { clock().sync(texts.clock); }  // until the first batch brings it
        const alerts = window.pingan.alerts;
        const risk = window.pingan.risk;
        alerts.setTexts(texts);
        risk.setTexts(texts);
        window.pingan.tasks.setTexts(texts);
        window.pingan.supervision.setTexts(texts);
        window.pingan.video.setTexts(texts);
        const triggered = (window.dash_clientside.callback_context.triggered || []).map(function (x) { return x.prop_id; });
        const isBatch = triggered.some(function (p) { return p.indexOf("data-batch") >= 0; });
        if (batch && isBatch) {
          handleBatch(batch); alerts.render(); window.pingan.tasks.render(); window.pingan.supervision.render();
        }
        if (isBatch && triggered.length === 1) {
          if (state.instructionsDirty) { state.instructionsDirty = false; renderInstructions(); }
          // Texts refresh on the one-second tick: a Dash render per batch would slow delivery.
          return [NO(), NO(), NO(), NO(), NO(), NO(), NO(), NO(), NO()];
        }
        trimDashHistory();
        alerts.render();  // the verification clocks run every second
        risk.render();  // and the leads' countdowns
        renderInstructions();  // the clocks run every second
        window.pingan.video.render(texts);  // the cameras near the panel's incident
        window.pingan.tasks.render();  // and the grid tasks'
        window.pingan.supervision.render();  // and how late each escalated item is
        if (!state.layers && ensureLayers()) { redrawFeed(); }
        expireAlerts();
        const status = statusOf(connected);
        const figures = figureTexts();
        return [
          changed("count", figures.count),
          changed("status", status[1]),
          changed("statusClass", "live-pill " + status[0]),
          changed("dead", state.deadLetters ? t("live.dead_letters", { count: state.deadLetters }) : ""),
          changed("grid", gridCount(selected)),
          changed("breaches", figures.breaches),
          changed("alertCount", figures.alerts),
          changed("alertBreaches", figures.alertBreaches),
          changed("leads", figures.leads),
        ];
      },
      // The big screen applies batches through here (it has none of the officer's panels).
      apply: function (batch, texts) {
        setTexts(texts);
        if (clock().state.serverMs === null) { clock().sync(texts.clock); }
        window.pingan.alerts.setTexts(texts);
        window.pingan.risk.setTexts(texts);
        if (!batch) { expireAlerts(); return false; }  // the screen's one-second tick
        return handleBatch(batch);
      },
      clockOf: clockOf,
      // The dispatch panel shows this incident (a clientside callback mirrors its store here).
      panelShows: function (incidentId) { state.openIncident = incidentId || null; },
      statusOf: statusOf,
      trimDashHistory: trimDashHistory,
      // Start recording when each incident is first drawn (tests and benchmarks).
      recordDraws: function () { state.drawn = state.drawn || new Map(); return true; },
      // For GeoJSON layers (the polling yardstick draws the same markers this way).
      incidentMarker: function (feature, latlng) {
        recordDrawn([feature.properties.event_id]);
        return L.circleMarker(latlng, incidentStyle(feature.properties));
      },
    },
  });
})();
