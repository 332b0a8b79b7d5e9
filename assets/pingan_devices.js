/* The device layer (issue 19): devices clustered on the server, fetched per viewport.
 *
 * While the "sensing devices" overlay is on, every move (a pan, a zoom) asks the server for what the
 * viewport needs at its zoom (urls.py DEVICE_VIEW: ?bbox=w,s,e,n&zoom=z, with a margin of a fifth of the
 * viewport on every side, so a small pan is covered before its answer comes). The answer is drawn when it
 * arrives, in one step: features already on the map stay (a pan keeps most bubbles), the others are added
 * and removed together, so nothing flickers and a pan costs what changed. An older request still in flight
 * is aborted; a late answer to an older view is dropped.
 *
 * Clusters show their count and the worst health of their devices (the server counts it); single devices
 * are the small dots of pingan_map.js devicePoint, coloured by the page's live health (pingan_alerts.js
 * hands it over as it sets the layer's hideout), else by what the server said. After a health change the
 * single dots are recoloured at once and the view is asked again a moment later, for the clusters.
 *
 * The layout's layer (layouts/map.py device_layer) is only the overlay's anchor: its add / remove events
 * switch this layer on and off. Device data is text, never HTML. */
(function () {
  "use strict";
  const PAD = 0.2;                // margin around the viewport, as a share of its size on each side
  const HEALTH_REFETCH_MS = 1500; // after a health change: the server reads health at most once a second
  const state = {
    url: null, map: null, group: null, asked: null,
    items: new Map(),             // key -> {layer, feature, health}: what is on the map
    health: {},                   // device_id -> awaiting / offline / faulty: the page's live health
    seq: 0,                       // the newest view asked for
    shown: 0,                     // the view whose features are on the map
    drawnAt: 0,                   // performance.now() when they were drawn (benchmarks, tests)
    arrivedAt: 0,                 // ... and when their answer arrived
    controller: null, healthTimer: null,
  };

  function texts() { return window.pingan.alerts && window.pingan.alerts.state.texts; }
  function t(key, values) {
    return window.pingan.dom ? window.pingan.dom.text(texts(), key, values) : key;
  }

  // The request's bbox: the viewport and its margin, within Web Mercator's world, to 6 decimals.
  function bboxOf(map) {
    const b = map.getBounds().pad(PAD);
    const round = function (v) { return Math.round(v * 1e6) / 1e6; };
    return [Math.max(-180, b.getWest()), Math.max(-85, b.getSouth()), Math.min(180, b.getEast()),
      Math.min(85, b.getNorth())].map(round);
  }

  // Ask for the map's view (``again``: even if it is the view asked last, after a health change).
  function refresh(again) {
    const map = state.map;
    if (!map || !state.url) { return; }
    const url = state.url + "?bbox=" + bboxOf(map).join(",") + "&zoom=" + map.getZoom();
    if (url === state.asked && again !== true) { return; }  // a zoom's moveend after its zoom event
    state.asked = url;
    const seq = ++state.seq;
    if (state.controller) { state.controller.abort(); }
    const controller = state.controller = new AbortController();
    fetch(url, { credentials: "same-origin", signal: controller.signal })
      .then(function (response) {
        if (!response.ok) { throw new Error("device layer: " + response.status); }
        return response.json();
      })
      .then(function (data) {
        if (seq !== state.seq || state.map !== map) { return; }  // a newer view was asked meanwhile
        show(data.features || [], seq);
      })
      .catch(function (err) {
        // Aborted for a newer view, or the server did not answer: the features shown stay (asked again next move).
        if (err && err.name !== "AbortError") {
          if (state.asked === url) { state.asked = null; }
          console.warn(String(err));
        }
      });
  }

  // What identifies a feature's look: a cluster by place, count and health; a device by id, place and health.
  function keyOf(feature) {
    const p = feature.properties;
    const at = feature.geometry.coordinates.join(",");
    return p.cluster ? "c|" + at + "|" + p.point_count + "|" + p.worst + "|" + (p.health || []).join(",")
      : "d|" + p.device_id + "|" + at + "|" + (p.health || "");
  }

  function healthOf(feature) { return state.health[feature.properties.device_id] || feature.properties.health || "online"; }

  function draw(feature) {
    const p = feature.properties;
    const c = feature.geometry.coordinates;
    const latlng = L.latLng(c[1], c[0]);
    if (p.cluster) {
      const marker = clusterMarker(feature, latlng);
      marker.bindTooltip(function () { return clusterText(p); },
        { direction: "top", className: "grid-tooltip", offset: [0, -18] });
      marker.on("click", function () {  // zoom to the cluster's devices
        const b = p.bounds;
        state.map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { padding: [40, 40] });
      });
      return { layer: marker, feature: feature, health: null };
    }
    const health = healthOf(feature);
    const dot = window.pingan.map.devicePoint(feature, latlng, { hideout: { health: { [p.device_id]: health } } });
    window.pingan.map.deviceTooltip(feature, dot);
    return { layer: dot, feature: feature, health: health };
  }

  // Bring the map to ``features`` in one step: keep what stays, add what is new, remove what went.
  function show(features, seq) {
    state.arrivedAt = performance.now();
    const next = new Map();
    features.forEach(function (feature) {
      const key = keyOf(feature);
      if (next.has(key)) { return; }
      const item = state.items.get(key) || draw(feature);
      next.set(key, item);
      if (!state.items.has(key)) { state.group.addLayer(item.layer); }
    });
    state.items.forEach(function (item, key) {
      if (!next.has(key)) { state.group.removeLayer(item.layer); }
    });
    state.items = next;
    state.shown = seq;
    state.drawnAt = performance.now();
  }

  function clear() {
    if (state.group) { state.group.clearLayers(); }
    state.items = new Map();
  }

  function abbreviated(n) {
    if (n >= 10000) { return Math.round(n / 1000) + "k"; }
    if (n >= 1000) { return (Math.round(n / 100) / 10) + "k"; }
    return String(n);
  }

  function clusterMarker(feature, latlng) {
    const p = feature.properties;
    const n = p.point_count;
    // dash-leaflet's own cluster bubbles: the same classes and size (assets/pingan.css themes them).
    const size = n > 1000 ? "large" : (n > 100 ? "medium" : "small");
    const inner = document.createElement("div");
    const count = document.createElement("span");
    count.textContent = abbreviated(n);
    count.setAttribute("data-count", String(n));
    inner.appendChild(count);
    return L.marker(latlng, {
      icon: L.divIcon({ html: inner, iconSize: L.point(40, 40),
        className: "marker-cluster marker-cluster-" + size + " device-cluster health-" + (p.worst || "online") }),
      keyboard: false,
    });
  }

  // A cluster's tooltip: how many devices, and how many of them are not online.
  function clusterText(p) {
    const parts = [t("device.cluster", { count: p.point_count.toLocaleString("en") })];
    [["faulty", 3], ["offline", 2], ["awaiting", 1]].forEach(function (pair) {
      const n = (p.health || [])[pair[1]];
      if (n) { parts.push(t("device.health." + pair[0]) + " " + n); }
    });
    return document.createTextNode(parts.join(" · "));
  }

  window.pingan = Object.assign({}, window.pingan, {
    devices: {
      state: state,
      bboxOf: bboxOf,
      abbreviated: abbreviated,
      keyOf: keyOf,
      refresh: refresh,
      show: show,
      // The overlay was switched on (its anchor added to the map): draw here and follow the map's moves.
      added: function (e, context) {
        const map = e.target._map || context.map;
        state.url = (context.data || {}).viewUrl || state.url;  // the layout's first data names the URL
        if (state.map === map) { return; }
        state.map = map;
        state.group = state.group || L.layerGroup();
        state.group.addTo(map);
        // A zoom is asked for as soon as the map has its new view, before it redraws its other layers (moveend
        // comes after them); a pan at its end.
        map.on("zoom moveend", refresh);
        refresh(true);
      },
      // Switched off: stop asking and drawing (the overlay asks again when it comes back).
      removed: function () {
        if (state.map) {
          state.map.off("zoom moveend", refresh);
          state.map.removeLayer(state.group);
        }
        if (state.controller) { state.controller.abort(); }
        clearTimeout(state.healthTimer);
        clear();
        state.map = null;
        state.seq++;
      },
      // The page's live health (pingan_alerts.js, as it sets the layer's hideout): recolour the single dots
      // now, and ask for the view again shortly, for the clusters' counts and colours.
      healthChanged: function (health) {
        state.health = Object.assign({}, health || {});
        if (!state.map) { return; }
        state.items.forEach(function (item, key) {
          if (item.health === null || healthOf(item.feature) === item.health) { return; }
          state.group.removeLayer(item.layer);
          const redrawn = draw(item.feature);
          state.items.set(key, redrawn);
          state.group.addLayer(redrawn.layer);
        });
        clearTimeout(state.healthTimer);
        state.healthTimer = setTimeout(function () { refresh(true); }, HEALTH_REFETCH_MS);
      },
    },
  });
})();
