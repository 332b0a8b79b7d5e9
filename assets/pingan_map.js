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
    // -- open grid tasks with a site (issue 15) --------------------------------------------------
    // pingan_tasks.js keeps the tasks from the pushed events; these markers follow that store: one DOM
    // marker per open task, its class the clock's colour (the list's own clockOf: one rule) and the state.
    // A finished task leaves the map. The overlay's layer group hands itself over when the map adds it
    // (layouts/map.py: its eventHandlers.add), so the layers control still shows and hides it.
    taskMarkers: { group: null, items: new Map(), texts: null },
    taskLayerAdded: function (e) {
      const markers = window.pingan.map.taskMarkers;
      if (markers.group === e.target) { return; }  // shown again by the layers control: its markers came along
      markers.group = e.target;
      markers.items.clear();
      window.pingan.map.syncTasks(markers.texts);
    },
    // Whether a task belongs on the map (its clock from pingan.tasks.clockOf): it has a site and is not finished.
    taskOnMap: function (task, clockOfTask) {
      return typeof task.lat === "number" && typeof task.lon === "number" &&
        clockOfTask.level !== "done" && clockOfTask.level !== "ended";
    },
    // The pin's class: the clock's colour (ok / amber / red) and the state (assigned / accepted / on_scene).
    taskLook: function (task, clockOfTask) {
      return "task-pin " + clockOfTask.level + " state-" + task.state;
    },
    // The tooltip's lines: id and kind, the summary, who and where, the state, the step and its clock.
    taskLines: function (task, clockOfTask, texts) {
      const t = function (key) { return window.pingan.dom.text(texts, key); };
      return [
        task.task_id + "  " + t("tasks.kind." + task.kind),
        task.summary || "",
        (task.worker || "") + " · " + (task.grid || ""),
        t("tasks.state." + task.state) + (clockOfTask.step ? " · " + t("tasks.step." + clockOfTask.step) : "") +
          "  " + window.pingan.tasks.clockText(clockOfTask),
      ];
    },
    // Bring the markers in line with the tasks the page holds, at the server's time (pingan_clock.js).
    syncTasks: function (texts) {
      const map = window.pingan.map;
      const markers = map.taskMarkers;
      const tasks = window.pingan.tasks;
      markers.texts = texts || markers.texts;
      if (!markers.group || !tasks || !window.pingan.clock) { return; }
      const now = window.pingan.clock.now();
      const seen = new Set();
      tasks.state.tasks.forEach(function (task, id) {
        const running = tasks.clockOf(task, now);
        if (!map.taskOnMap(task, running)) { return; }
        seen.add(id);
        let item = markers.items.get(id);
        if (!item) {
          item = map.taskMarker(task);
          markers.items.set(id, item);
          item.marker.addTo(markers.group);
        }
        item.task = task;
        if (item.lat !== task.lat || item.lon !== task.lon) {
          item.lat = task.lat; item.lon = task.lon;
          item.marker.setLatLng([task.lat, task.lon]);
        }
        const look = map.taskLook(task, running);
        if (item.pin.className !== look) {
          item.pin.className = look;
          item.pin.setAttribute("data-state", task.state);
          item.marker.setZIndexOffset({ red: 300, amber: 200 }[running.level] || 100);  // the late on top
        }
        if (item.marker.isTooltipOpen()) { item.marker.getTooltip().update(); }  // its clock runs
      });
      markers.items.forEach(function (item, id) {
        if (!seen.has(id)) { markers.group.removeLayer(item.marker); markers.items.delete(id); }
      });
    },
    taskMarker: function (task) {
      const pin = document.createElement("div");
      pin.setAttribute("data-task-id", task.task_id);
      const item = { pin: pin, task: task, lat: task.lat, lon: task.lon, marker: null };
      item.marker = L.marker([task.lat, task.lon], {
        icon: L.divIcon({ className: "task-marker", html: pin, iconSize: [20, 20] }), keyboard: false,
      });
      item.marker.bindTooltip(function () {
        const map = window.pingan.map;
        const root = document.createElement("div");
        const running = window.pingan.tasks.clockOf(item.task, window.pingan.clock.now());
        map.taskLines(item.task, running, map.taskMarkers.texts).forEach(function (line, i) {
          const row = document.createElement("div");
          row.className = i === 0 ? "tt-title" : "tt-row";
          row.textContent = line;  // summaries come from devices and people: text, never HTML
          root.appendChild(row);
        });
        root.className = "task-tooltip " + running.level;
        return root;
      }, { className: "grid-tooltip", direction: "top", offset: [0, -8] });
      return item;
    },
    // The hall's map: after a pushed batch (the live layer applies it in its own callback, which Dash may run
    // after this one, so a moment later) and on the one-second tick (clocks turn amber, then red).
    tasksChanged: function (texts) {
      setTimeout(function () { window.pingan.map.syncTasks(texts); }, 0);
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
