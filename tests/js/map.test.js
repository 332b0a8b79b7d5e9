// pingan_map.js: a click on the incidents' canvas selects the grid below it (gridAt), found by
// ray casting over the grid's rings. Protects inside() for polygons, holes and multipolygons.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { page } = require("./harness");

function ring(points) { return points.map(function (p) { return { lat: p[0], lng: p[1] }; }); }
const SQUARE = ring([[0, 0], [0, 10], [10, 10], [10, 0]]);
const HOLE = ring([[4, 4], [4, 6], [6, 6], [6, 4]]);
const FAR = ring([[20, 20], [20, 30], [30, 30], [30, 20]]);
const at = function (lat, lng) { return { lat: lat, lng: lng }; };

function mapPage() {
  const p = page("");
  p.load(["pingan_map.js"]);
  return p.pingan().map;
}

test("inside(): a point in a polygon, outside it, and in its hole", function () {
  const map = mapPage();
  assert.equal(map.inside(at(2, 2), [SQUARE]), true);
  assert.equal(map.inside(at(12, 2), [SQUARE]), false);
  assert.equal(map.inside(at(5, 5), [SQUARE, HOLE]), false);
  assert.equal(map.inside(at(3, 5), [SQUARE, HOLE]), true);
});

test("inside(): multipolygons nest their rings one level deeper", function () {
  const map = mapPage();
  assert.equal(map.inside(at(25, 25), [[SQUARE], [FAR]]), true);
  assert.equal(map.inside(at(15, 15), [[SQUARE], [FAR]]), false);
});

test("gridAt(): the grid whose bounds and rings hold the point, else null", function () {
  const map = mapPage();
  const layer = function (rings, box) {
    return { getLatLngs: function () { return rings; },
      getBounds: function () { return { contains: function (p) { return p.lat >= box[0] && p.lat <= box[1] && p.lng >= box[2] && p.lng <= box[3]; } }; } };
  };
  map.grids["G-01"] = layer([SQUARE, HOLE], [0, 10, 0, 10]);
  map.grids["G-02"] = layer([HOLE], [4, 6, 4, 6]);
  assert.equal(map.gridAt(at(1, 1)), "G-01");
  assert.equal(map.gridAt(at(5, 5)), "G-02");
  assert.equal(map.gridAt(at(50, 50)), null);
});
