/* The live page: applies pushed batches, acknowledges them, draws markers and the feed.
 *
 * Protocol (see streams/push.py): the server sends one batch at a time
 * {seq, try, from, last_id, events, snapshot?}; the page applies it and POSTs an ack,
 * which releases the next batch. seq <= last: a resend, ack again; seq > last + 1: a gap,
 * re-subscribe from the last applied stream id. All outside text is set as text. */
(function () {
  const FEED_LIMIT = 100;
  const SETTLED_LIMIT = 500;
  const FOLD_AFTER_MS = 3000;
  const FOLD_AT = 60;
  const ALERT_SHOW_MS = 5 * 60 * 1000;
  const CATEGORY_COLOURS = {
    neighbour_dispute: "#ffb74d", family_dispute: "#ff8a65", wage_arrears: "#ffd54f", bride_price: "#f06292",
    noise: "#9575cd", theft: "#4dd0e1", fraud: "#4db6ac", traffic: "#64b5f6", fight: "#ff5252",
    fire: "#ff3d00", medical: "#81c784", other: "#b0bec5",
  };
  const UNIT_COLOURS = { available: "#00e676", busy: "#ffab00", off: "#78909c" };
  const NO = () => window.dash_clientside.no_update;

  const state = {
    sid: null, seq: 0, lastId: null, lastEventAt: null, connectedAt: null,
    incidents: new Map(), fresh: new Map(), settledDirty: false, freshSince: null,
    units: new Map(), alerts: new Map(), deadLetters: 0, shown: 0,
  };

  function post(url, body) {
    return fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      credentials: "same-origin",
    }).catch(function () { /* the watchdog re-sends; a new connection re-subscribes */ });
  }

  function subscribe() {
    if (state.sid) { post("/live/subscribe", { sid: state.sid, last_id: state.lastId }); }
  }

  function incidentFeature(inc) {
    return { type: "Feature", id: inc.event_id, properties: inc, geometry: { type: "Point", coordinates: [inc.lon, inc.lat] } };
  }

  function applyEvent(ev) {
    const d = ev.data;
    if (ev.type === "incident") {
      state.incidents.set(d.event_id, d);
      state.fresh.set(d.event_id, d);
      if (state.freshSince === null) { state.freshSince = Date.now(); }
    } else if (ev.type === "unit") {
      state.units.set(d.unit_id, d);
    } else if (ev.type === "alert" || ev.type === "fault") {
      d.receivedAt = Date.now();
      state.alerts.set(d.event_id, d);
    } else if (ev.type === "counters") {
      state.deadLetters += d.dead_letters_added || 0;
    }
  }

  function applySnapshot(snap) {
    state.incidents.clear(); state.fresh.clear(); state.units.clear(); state.alerts.clear();
    snap.incidents.forEach(function (inc) { state.incidents.set(inc.event_id, inc); });
    snap.units.forEach(function (u) { state.units.set(u.unit_id, u); });
    state.deadLetters = (snap.counters && snap.counters.dead_letters) || 0;
    state.settledDirty = true;
    state.freshSince = null;
  }

  function trimIncidents() {
    // Keep the newest SETTLED_LIMIT (insertion order is arrival order).
    while (state.incidents.size > SETTLED_LIMIT) {
      const oldest = state.incidents.keys().next().value;
      state.incidents.delete(oldest);
      state.fresh.delete(oldest);
    }
  }

  function fold(force) {
    // Fresh markers join the large settled layer in bulk, so per-batch work follows the batch.
    if (state.fresh.size === 0) { return false; }
    if (!force && state.fresh.size < FOLD_AT && Date.now() - state.freshSince < FOLD_AFTER_MS) { return false; }
    state.fresh.clear();
    state.freshSince = null;
    state.settledDirty = true;
    return true;
  }

  function collection(items) {
    return { type: "FeatureCollection", features: items };
  }

  function settledData() {
    const out = [];
    state.incidents.forEach(function (inc, id) { if (!state.fresh.has(id)) { out.push(incidentFeature(inc)); } });
    return collection(out);
  }

  function t(texts, key, values) {
    let s = (texts.text && texts.text[key]) || key;
    Object.keys(values || {}).forEach(function (k) { s = s.replace("{" + k + "}", values[k]); });
    return s;
  }

  function hhmm(iso) {
    return new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false })
      .format(new Date(iso));
  }

  function li(className, attrs, children) {
    return { type: "Li", namespace: "dash_html_components", props: Object.assign({ className: className, children: children }, attrs) };
  }

  function span(className, children) {
    return { type: "Span", namespace: "dash_html_components", props: { className: className, children: children } };
  }

  function feedItems(texts) {
    const items = [];
    const all = Array.from(state.incidents.values());
    for (let i = all.length - 1; i >= 0 && items.length < FEED_LIMIT; i--) {
      const inc = all[i];
      items.push(li("feed-item p" + inc.priority + " cat-" + inc.category, { "data-event-id": inc.event_id, key: inc.event_id }, [
        span("feed-time", hhmm(inc.reported_at)),
        span("feed-cat", t(texts, "category." + inc.category)),
        span("feed-grid", inc.grid),
        span("feed-status", t(texts, "status." + inc.status)),
        span("feed-address", inc.address),
      ]));
    }
    if (items.length === 0) { items.push(li("empty-hint", {}, t(texts, "panel.feed.empty"))); }
    return items;
  }

  function unitData() {
    const out = [];
    state.units.forEach(function (u) {
      out.push({ type: "Feature", id: u.unit_id, properties: u, geometry: { type: "Point", coordinates: [u.lon, u.lat] } });
    });
    return collection(out);
  }

  function alertData() {
    const now = Date.now();
    const out = [];
    state.alerts.forEach(function (a, id) {
      if (now - a.receivedAt > ALERT_SHOW_MS) { state.alerts.delete(id); return; }
      out.push({ type: "Feature", id: id, properties: a, geometry: { type: "Point", coordinates: [a.lon, a.lat] } });
    });
    return collection(out);
  }

  function statusOf(texts, connected) {
    if (!connected) {
      return state.connectedAt === null ? ["connecting", t(texts, "live.status.connecting")]
        : ["reconnecting", t(texts, "live.status.reconnecting")];
    }
    const idle = state.lastEventAt === null ? 0 : (Date.now() - state.lastEventAt) / 1000;
    if (idle > texts.staleAfterS) { return ["stale", t(texts, "live.status.stale", { seconds: Math.round(idle) })]; }
    return ["live", t(texts, "live.status.live")];
  }

  function gridCount(selected, texts) {
    if (!selected) { return ""; }
    let n = 0;
    state.incidents.forEach(function (inc) { if (inc.grid === selected) { n++; } });
    return t(texts, "live.grid_today") + ": " + t(texts, "live.grid_today.value", { count: n });
  }

  function handleBatch(batch) {
    if (batch.seq <= state.seq) {          // a resend of what we already applied
      post("/live/ack", { sid: state.sid, seq: batch.seq });
      return false;
    }
    if (batch.seq > state.seq + 1) {        // a gap: ask again from what we have
      state.seq = 0;
      subscribe();
      return false;
    }
    if (batch.snapshot) { applySnapshot(batch.snapshot); }
    batch.events.forEach(applyEvent);
    trimIncidents();
    if (batch.events.length) { state.lastEventAt = Date.now(); }
    state.seq = batch.seq;
    state.lastId = batch.last_id;
    state.shown += batch.events.length;
    // Acknowledge once this task is done (after Dash applies the outputs), not after a paint.
    setTimeout(function () { post("/live/ack", { sid: state.sid, seq: batch.seq }); }, 0);
    return true;
  }

  window.pingan = Object.assign({}, window.pingan, {
    live: {
      state: state,
      onSocket: function (socketId, connected) {
        if (connected && socketId && socketId !== state.sid) {
          state.sid = socketId;
          state.seq = 0;  // sequence numbers are per connection
          state.connectedAt = Date.now();
          subscribe();
        }
        return NO();
      },
      update: function (batch, _tick, connected, selected, texts) {
        const triggered = (window.dash_clientside.callback_context.triggered || []).map(function (x) { return x.prop_id; });
        let changed = false;
        if (batch && triggered.some(function (p) { return p.indexOf("data-batch") >= 0; })) {
          changed = handleBatch(batch);
        }
        const folded = fold(!changed && state.fresh.size > 0 && Date.now() - (state.freshSince || 0) >= FOLD_AFTER_MS);
        const status = statusOf(texts, connected);
        const hasAlerts = state.alerts.size > 0;
        const freshOut = (changed || folded) ? collection(Array.from(state.fresh.values()).map(incidentFeature)) : NO();
        const settledOut = state.settledDirty ? settledData() : NO();
        state.settledDirty = false;
        return [
          freshOut,
          settledOut,
          changed ? unitData() : NO(),
          (changed || hasAlerts) ? alertData() : NO(),
          changed ? feedItems(texts) : NO(),
          changed ? t(texts, "panel.feed.count", { count: state.incidents.size }) : NO(),
          status[1],
          "live-pill " + status[0],
          state.deadLetters ? t(texts, "live.dead_letters", { count: state.deadLetters }) : "",
          gridCount(selected, texts),
        ];
      },
      incidentMarker: function (feature, latlng, context) {
        const p = feature.properties;
        const size = { 1: 20, 2: 15, 3: 11 }[p.priority] || 12;
        const el = document.createElement("div");
        el.className = "incident-dot" + ((context.hideout || {}).fresh ? " fresh" : "");
        el.style.background = CATEGORY_COLOURS[p.category] || "#b0bec5";
        el.style.width = el.style.height = size + "px";
        el.setAttribute("data-event-id", p.event_id);
        return L.marker(latlng, {
          icon: L.divIcon({ className: "incident-marker", html: el, iconSize: [size, size] }),
          keyboard: false, riseOnHover: true,
        });
      },
      incidentTooltip: function (feature, layer) {
        layer.bindTooltip(function () {
          const p = feature.properties;
          const root = document.createElement("div");
          [p.event_id + "  " + p.grid, p.address, p.description].forEach(function (line) {
            const row = document.createElement("div");
            row.textContent = line || "";
            root.appendChild(row);
          });
          return root;
        }, { className: "grid-tooltip", direction: "top" });
      },
      unitMarker: function (feature, latlng) {
        const p = feature.properties;
        const el = document.createElement("div");
        el.className = "unit-arrow";
        el.style.color = UNIT_COLOURS[p.status] || "#ffffff";
        el.style.transform = "rotate(" + (p.heading || 0) + "deg)";
        el.textContent = "▲";
        el.setAttribute("data-unit-id", p.unit_id);
        return L.marker(latlng, { icon: L.divIcon({ className: "unit-marker", html: el, iconSize: [14, 14] }), keyboard: false });
      },
      unitTooltip: function (feature, layer) {
        layer.bindTooltip(function () {
          const el = document.createElement("div");
          el.textContent = feature.properties.unit_id;
          return el;
        }, { className: "grid-tooltip", direction: "top" });
      },
      alertMarker: function (feature, latlng) {
        const el = document.createElement("div");
        el.className = "alert-flash " + (feature.properties.kind === "fault" ? "fault" : "alert");
        el.setAttribute("data-event-id", feature.properties.event_id);
        return L.marker(latlng, { icon: L.divIcon({ className: "alert-marker", html: el, iconSize: [28, 28] }), keyboard: false });
      },
      alertTooltip: function (feature, layer) {
        layer.bindTooltip(function () {
          const p = feature.properties;
          const el = document.createElement("div");
          el.textContent = p.device_id + "  " + (p.scenario || p.kind) + (p.value !== null && p.value !== undefined ? "  " + p.value : "");
          return el;
        }, { className: "grid-tooltip", direction: "top" });
      },
    },
  });
})();
