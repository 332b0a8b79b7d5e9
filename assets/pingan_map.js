/* Client-side map functions, referenced from Python as pingan.map.<name>.
 * dash-leaflet calls them with the layer's props (hideout, map) as the last argument.
 * Text from data is always inserted with textContent, never as HTML. */
window.pingan = Object.assign({}, window.pingan, {
  map: {
    gridStyle: function (feature, context) {
      const hideout = context.hideout || {};
      const code = feature.properties.code;
      const graded = hideout.fill && hideout.fill[code];  // a risk grade's colour, when graded
      const fill = graded || "#1f4e79";
      const selected = hideout.selected === code;
      return {
        // Leaflet sets a path's class once, at creation: the code makes each grid addressable.
        className: "grid-cell grid-" + code,
        color: selected ? "#ffd54f" : "#3f86c4",
        weight: selected ? 3 : 0.5,
        opacity: selected ? 1 : 0.55,
        fillColor: fill,
        fillOpacity: selected ? 0.5 : (graded ? 0.45 : 0.22),
      };
    },
    gridTooltip: function (feature, layer, context) {
      window.pingan.map.leaflet = context.map;  // for operators' consoles and tests
      window.pingan.map.grids[feature.properties.code] = layer;  // replaced, not added, when redrawn
      window.pingan.map.attachLabels(context.map, context.hideout || {});
      layer.bindTooltip(function () {
        return window.pingan.map.tooltipContent(feature.properties, context.hideout || {});
      }, { sticky: true, direction: "top", className: "grid-tooltip", offset: [0, -8] });
    },
    // Sensing devices: a small dot coloured by health (hideout.health: device_id -> awaiting / offline / faulty).
    // Awaiting its first report is not a verdict: a faint neutral-grey ring, unlike offline's solid blue-grey.
    devicePoint: function (feature, latlng, context) {
      const health = ((context.hideout || {}).health || {})[feature.properties.device_id] || "online";
      const awaiting = health === "awaiting";
      return L.circleMarker(latlng, {
        radius: 4, weight: 1, color: awaiting ? "#9e9e9e" : "#0b1a2b", fillOpacity: awaiting ? 0.35 : 0.95,
        fillColor: { online: "#26c6da", awaiting: "#9e9e9e", offline: "#78909c", faulty: "#ff9800" }[health] || "#78909c",
        className: "device-dot device-" + health,
      });
    },
    deviceTooltip: function (feature, layer) {
      if (feature.properties.cluster) { return; }  // a cluster bubble shows its count, not a device
      layer.bindTooltip(function () {
        return window.pingan.alerts.describe(feature.properties);
      }, { direction: "top", className: "grid-tooltip", offset: [0, -6] });
    },
    densityPoint: function (feature, latlng) { return window.pingan.risk.densityPoint(feature, latlng); },
    compoundStyle: function () {
      return { color: "#ffb300", weight: 1.5, dashArray: "4 3", fill: true, fillOpacity: 0.06, fillColor: "#ffb300" };
    },
    grids: {},  // grid code -> its Leaflet layer, for gridAt
    // The grid containing ``latlng`` (bounds first, then ray casting over its rings), or null.
    gridAt: function (latlng) {
      const grids = window.pingan.map.grids;
      return Object.keys(grids).find(function (code) {
        return grids[code].getBounds().contains(latlng) && window.pingan.map.inside(latlng, grids[code].getLatLngs());
      }) || null;
    },
    inside: function (latlng, rings) {
      // GeoJSON polygons come as [outer, holes...] (possibly nested for multipolygons): odd crossings = inside.
      let crossings = 0;
      const walk = function (ring) {
        if (ring.length && Array.isArray(ring[0])) { ring.forEach(walk); return; }
        for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
          const a = ring[i], b = ring[j];
          if ((a.lat > latlng.lat) !== (b.lat > latlng.lat) &&
              latlng.lng < (b.lng - a.lng) * (latlng.lat - a.lat) / (b.lat - a.lat) + a.lng) { crossings++; }
        }
      };
      walk(rings);
      return crossings % 2 === 1;
    },
    tooltipContent: function (props, hideout) {
      const labels = hideout.labels || {};
      const root = document.createElement("div");
      const title = document.createElement("div");
      title.className = "tt-title";
      title.textContent = props.code + "  " + (props.name || "");
      root.appendChild(title);
      ["station", "officer", "worker"].forEach(function (field) {
        const row = document.createElement("div");
        row.className = "tt-row";
        const key = document.createElement("span");
        key.className = "tt-key";
        key.textContent = labels[field] || field;
        const value = document.createElement("span");
        value.className = "tt-value";
        value.textContent = props[field] || "";
        row.appendChild(key);
        row.appendChild(value);
        root.appendChild(row);
        });
      return root;
    },
    districtStyle: function () {
      return { color: "#9ad3ff", weight: 3, opacity: 0.95, fillColor: "#0a1a30", fillOpacity: 0.6, className: "district-outline" };
    },
    stationStyle: function () {
      return { color: "#7fe3ff", weight: 2.6, opacity: 0.95, fill: false, className: "station-outline" };
    },
    attachLabels: function (map, hideout) {
      if (map.__pinganLabels) { return; }
      map.__pinganLabels = true;
      let labels = null;
      const update = function () {
        const street = map.getZoom() >= hideout.streetZoom;
        map.getContainer().classList.toggle("show-labels", street);
        if (street && labels === null) {
          labels = "loading";
          fetch(hideout.labelsUrl).then(function (r) { return r.json(); }).then(function (data) {
            labels = L.geoJSON(data, { pointToLayer: window.pingan.map.gridLabel, interactive: false }).addTo(map);
          });
        }
      };
      map.on("zoomend", update);
      update();
    },
    gridLabel: function (feature, latlng) {
      const label = document.createElement("span");
      label.textContent = feature.properties.code;
      return L.marker(latlng, {
        icon: L.divIcon({ className: "grid-label", html: label, iconSize: null }),
        interactive: false,
        keyboard: false,
      });
    },
    // The header clock shows the server's time (pingan_clock.js), not the desk's.
    clockText: function () {
      const map = window.pingan.map;
      map.clockFormat = map.clockFormat || new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai",
        year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
        hour12: false });
      return map.clockFormat.format(new Date(window.pingan.clock.now()));
    },
  },
});
