// pingan_devices.js (the device layer, issue 19). Protects: each view asked with the viewport's bbox and zoom and
// drawn in one step when its answer comes (what stays is kept, the rest added and removed together); an answer to
// an older view or a failed one changes nothing; a cluster bubble shows its count and worst health; a health
// change recolours the single dots at once and asks for the view again for the clusters.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { page, settle } = require("./harness");

const URL = "/map/devices";

// Just enough of Leaflet: layers remember their options, a group holds them, a map has a view and events.
function fakeLeaflet(window) {
  const layer = function (kind, latlng, options) {
    return { kind: kind, latlng: latlng, options: options, handlers: {}, tooltip: null,
      bindTooltip: function (content) { this.tooltip = content; return this; },
      on: function (name, fn) { this.handlers[name] = fn; return this; } };
  };
  window.L = {
    latLng: function (lat, lng) { return { lat: lat, lng: lng }; },
    point: function (x, y) { return [x, y]; },
    divIcon: function (options) { return options; },
    marker: function (latlng, options) { return layer("marker", latlng, options); },
    circleMarker: function (latlng, options) { return layer("dot", latlng, options); },
    layerGroup: function () {
      return { layers: new Set(), addLayer: function (l) { this.layers.add(l); },
        removeLayer: function (l) { this.layers.delete(l); }, clearLayers: function () { this.layers.clear(); },
        addTo: function (map) { map.group = this; return this; } };
    },
  };
  const map = { zoom: 11, events: {}, fitted: null, group: null,
    getZoom: function () { return this.zoom; },
    getBounds: function () {
      return { pad: function () {
        return { getWest: function () { return 112.1; }, getSouth: function () { return 39.1; },
          getEast: function () { return 112.7; }, getNorth: function () { return 39.4; } };
      } };
    },
    on: function (names, fn) { names.split(" ").forEach(function (n) { this.events[n] = fn; }, this); },
    off: function (names) { names.split(" ").forEach(function (n) { delete this.events[n]; }, this); },
    // The officer moves the map: a new view, then Leaflet's moveend.
    move: function () { this.zoom += 0.25; this.events.moveend({ type: "moveend" }); },
    removeLayer: function () { this.group = null; },
    fitBounds: function (bounds) { this.fitted = bounds; } };
  return map;
}

// fetch() whose answers the test gives, in any order.
function fakeFetch(window) {
  const asked = [];
  window.fetch = function (url, options) {
    return new Promise(function (resolve, reject) {
      asked.push({ url: url, options: options,
        answer: function (features) { resolve({ ok: true, json: function () { return Promise.resolve({ type: "FeatureCollection", features: features }); } }); },
        fail: function () { resolve({ ok: false, status: 503 }); },
        abort: function () { const e = new Error("aborted"); e.name = "AbortError"; reject(e); } });
      options.signal.addEventListener("abort", function () { asked[asked.length - 1].abort(); });
    });
  };
  return asked;
}

function cluster(lon, lat, count, worst, health) {
  return { type: "Feature", geometry: { type: "Point", coordinates: [lon, lat] },
    properties: { cluster: true, point_count: count, worst: worst || "online", health: health || [count, 0, 0, 0],
      bounds: [lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01] } };
}

function device(id, lon, lat, health) {
  const properties = { device_id: id, type: "camera", grid: "SC-001" };
  if (health) { properties.health = health; }
  return { type: "Feature", geometry: { type: "Point", coordinates: [lon, lat] }, properties: properties };
}

function layerPage() {
  const p = page("");
  const map = fakeLeaflet(p.window);
  const asked = fakeFetch(p.window);
  p.window.console.warn = function () {};
  p.load();
  const devices = p.pingan().devices;
  devices.added({ target: { _map: map } }, { data: { viewUrl: URL } });
  const drawn = function () {
    return Array.from(map.group.layers, function (l) {
      return l.kind === "marker" ? "cluster " + l.options.icon.html.textContent + " " + l.options.icon.className
        : "dot " + l.options.className;
    }).sort();
  };
  return { p: p, map: map, asked: asked, devices: devices, drawn: drawn };
}

test("a view is asked with its bbox and zoom, drawn when it comes; a pan keeps what stays", async function () {
  const { map, asked, devices, drawn } = layerPage();
  assert.equal(asked.length, 1);
  assert.equal(asked[0].url, URL + "?bbox=112.1,39.1,112.7,39.4&zoom=11");
  asked[0].answer([cluster(112.3, 39.3, 1234, "faulty", [1230, 0, 3, 1]), device("CAM-1", 112.5, 39.2)]);
  await settle();
  assert.deepEqual(drawn(), ["cluster 1.2k marker-cluster marker-cluster-large device-cluster health-faulty",
    "dot device-dot device-online"]);
  assert.equal(devices.state.shown, 1);
  const kept = Array.from(map.group.layers).find(function (l) { return l.kind === "dot"; });
  // The map moves: until the answer comes, what was drawn stays.
  map.move();
  assert.equal(asked.length, 2);
  assert.equal(map.group.layers.size, 2);
  const moved = cluster(112.6, 39.35, 7);
  moved.properties.bounds = [112.59, 39.34, 112.61, 39.36];
  asked[1].answer([device("CAM-1", 112.5, 39.2), moved]);
  await settle();
  assert.deepEqual(drawn(), ["cluster 7 marker-cluster marker-cluster-small device-cluster health-online",
    "dot device-dot device-online"]);
  assert.ok(map.group.layers.has(kept), "the device that stayed in view was not drawn again");
  // The same view again (a zoom's moveend after its zoom event) is not asked twice.
  map.events.moveend({ type: "moveend" });
  assert.equal(asked.length, 2);
  // A click on a bubble zooms to its devices.
  Array.from(map.group.layers).find(function (l) { return l.kind === "marker"; }).handlers.click();
  assert.deepEqual(JSON.parse(JSON.stringify(map.fitted)), [[39.34, 112.59], [39.36, 112.61]]);
});

test("an answer to an older view is dropped; a failed one leaves what is shown", async function () {
  const { map, asked, devices, drawn } = layerPage();
  asked[0].answer([cluster(112.3, 39.3, 50)]);
  await settle();
  map.move();
  map.move();  // moved again before the first answer: that request is aborted
  asked[1].answer([cluster(112.4, 39.3, 60)]);
  await settle();
  assert.equal(devices.state.shown, 1);
  asked[2].fail();
  await settle();
  assert.deepEqual(drawn(), ["cluster 50 marker-cluster marker-cluster-small device-cluster health-online"]);
  map.move();
  asked[3].answer([cluster(112.4, 39.3, 60)]);
  await settle();
  assert.deepEqual(drawn(), ["cluster 60 marker-cluster marker-cluster-small device-cluster health-online"]);
  assert.equal(devices.state.shown, 4);
});

test("a health change recolours the dots at once and asks for the clusters again", async function () {
  const { p, asked, devices, drawn } = layerPage();
  asked[0].answer([device("CAM-1", 112.5, 39.2), device("CAM-2", 112.51, 39.2, "offline"), cluster(112.3, 39.3, 9)]);
  await settle();
  assert.deepEqual(drawn(), ["cluster 9 marker-cluster marker-cluster-small device-cluster health-online",
    "dot device-dot device-offline", "dot device-dot device-online"]);
  devices.healthChanged({ "CAM-1": "faulty" });
  assert.deepEqual(drawn(), ["cluster 9 marker-cluster marker-cluster-small device-cluster health-online",
    "dot device-dot device-faulty", "dot device-dot device-offline"]);
  assert.equal(asked.length, 1);
  p.advance(1500);
  assert.equal(asked.length, 2, "the view is asked again for the clusters' counts");
});

test("switched off, the layer stops asking and drawing", async function () {
  const { map, asked, devices } = layerPage();
  devices.removed();
  assert.equal(map.events.moveend, undefined);
  assert.equal(map.events.zoom, undefined);
  asked[0].answer([cluster(112.3, 39.3, 9)]);
  await settle();
  assert.equal(devices.state.shown, 0);
  assert.equal(map.group, null);
});
