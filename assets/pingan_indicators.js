/* The chiefs' indicators, drawn from figures the server pushes (indicators/live.py).
 *
 * The page never asks for them: the live layer hands each pushed `indicators` event (and the
 * snapshot's) to `set`, which bumps a version store; the panel's and the big screen's
 * clientside callbacks then redraw from `state.latest`. Tiles and tables are built as DOM
 * with textContent (never HTML); charts are Plotly figures returned to dcc.Graph. */
(function () {
  const COLOURS = { ok: "#00e676", warn: "#ffb300", bad: "#ff5252", neutral: "#4fc3f7", muted: "#8aa4c4",
                    text: "#e3eefc", grid: "#1d3557", today: "#4fc3f7", before: "#8aa4c4" };
  const GAUGES = [  // [figure path, catalogue key, target key]
    ["arrival.on_time", "ind.arrival_on_time", "arrival_on_time"],
    ["result.on_time", "ind.result_on_time", "result_on_time"],
    ["leads.disposal_rate", "ind.lead_disposal", "lead_disposal"],
    ["verification.rate", "ind.verification", "verify_on_time"],
    ["completeness.rate", "ind.completeness", "completeness"],
    ["devices.rate", "ind.devices", null],
  ];
  const state = { latest: null, version: 0 };

  function t(texts, key, values) { return window.pingan.dom.text(texts, key, values); }
  function el(tag, className, content) { return window.pingan.dom.el(tag, className, content); }

  function pick(obj, path) {
    return path.split(".").reduce(function (o, k) { return o === null || o === undefined ? null : o[k]; }, obj);
  }

  function pct(value) { return value === null || value === undefined ? "–" : Math.round(value * 1000) / 10 + "%"; }
  function minutes(value) { return value === null || value === undefined ? "–" : value.toFixed(1); }

  // A rate against its target: green at or above it, amber within 10 points, red below that.
  function status(value, target) {
    if (value === null || value === undefined || target === null || target === undefined) { return "neutral"; }
    return value >= target ? "ok" : (value >= target - 0.1 ? "warn" : "bad");
  }

  function scopeOf(scope) {
    const scopes = (state.latest && state.latest.scopes) || {};
    return scopes[scope] || scopes[Object.keys(scopes)[0]] || null;
  }

  // -- tiles ---------------------------------------------------------------------------------

  function tile(label, value, detail, level, figure) {
    const node = el("div", "ind-tile " + (level || "neutral"));
    if (figure) { node.setAttribute("data-figure", figure); }
    node.appendChild(el("div", "ind-tile-label", label));
    node.appendChild(el("div", "ind-tile-value", value));
    if (detail) { node.appendChild(el("div", "ind-tile-detail", detail)); }
    return node;
  }

  function tiles(f, texts, withRevisits) {
    const targets = texts.indicatorTargets;
    const inc = f.incidents;
    const change = inc.change === null ? t(texts, "ind.change.none") :
      t(texts, "ind.change", { change: (inc.change > 0 ? "+" : "") + Math.round(inc.change * 100) + "%" });
    const arrivalTarget = t(texts, "ind.arrival_target");
    const ins = f.instructions;
    const out = [
      tile(t(texts, "ind.incidents"), String(inc.count),
        t(texts, "ind.incidents.comparison", { count: inc.comparison }) + " · " + change,
        inc.change !== null && inc.change > 0.3 ? "warn" : "neutral", "incidents"),
      tile(t(texts, "ind.repeat"), String(f.repeat.incidents),
        t(texts, "ind.repeat.places", { places: f.repeat.places, threshold: f.repeat.threshold }),
        f.repeat.places ? "warn" : "ok", "repeat"),
      tile(t(texts, "ind.open"), String(ins.open),
        t(texts, "ind.overdue", { count: ins.overdue }) + " · " + t(texts, "ind.breaches", { count: ins.breaches }),
        ins.overdue ? "bad" : (ins.breaches ? "warn" : "ok"), "open"),
      tile(t(texts, "ind.queue"), String(f.queue.unverified), t(texts, "ind.queue.overdue", { count: f.queue.overdue }),
        f.queue.overdue ? "bad" : (f.queue.unverified ? "warn" : "ok"), "unverified"),
      tile(t(texts, "ind.pending"), String(f.leads.pending), t(texts, "ind.pending.late", { count: f.leads.late }),
        f.leads.late ? "bad" : "ok", "pending"),
      tile(t(texts, "ind.tasks"), String(f.grid_tasks.open),
        t(texts, "ind.tasks.detail", { overdue: f.grid_tasks.overdue, breaches: f.grid_tasks.breaches,
          on_time: pct(f.grid_tasks.on_scene_on_time) }),
        f.grid_tasks.overdue ? "bad" : (f.grid_tasks.breaches ? "warn" : "ok"), "grid-tasks"),
      tile(t(texts, "ind.arrival"), minutes(f.arrival.median_min),
        t(texts, "ind.p90", { value: minutes(f.arrival.p90_min) }) + " · " + arrivalTarget,
        status(f.arrival.on_time, targets.arrival_on_time)),
      tile(t(texts, "ind.result"), minutes(f.result.median_min),
        t(texts, "ind.p90", { value: minutes(f.result.p90_min) }) + " · " + t(texts, "ind.result_target"),
        status(f.result.on_time, targets.result_on_time)),
    ];
    GAUGES.forEach(function (g) {
      const value = pick(f, g[0]);
      if (g[0] === "devices.rate" && !f.devices) { return; }  // no live health for this period
      const target = g[2] ? targets[g[2]] : null;
      out.push(tile(t(texts, g[1]), pct(value), target === null ? "" : t(texts, "ind.target", { value: pct(target) }),
        status(value, target)));
    });
    const visits = f.revisits;
    // The chiefs' panel: the return visits due in the period, made by their due time (target 100%). The wall
    // keeps to the day's live picture (an overdue visit is the desk's and the panel's).
    if (visits && withRevisits) {
      out.push(tile(t(texts, "ind.revisits"), pct(visits.coverage),
        t(texts, "ind.revisits.detail", { due: visits.due, overdue: visits.overdue,
          satisfied: pct(visits.satisfaction), reopened: pct(visits.reopen_rate) }),
        visits.overdue ? "bad" : (visits.due ? "ok" : "neutral"), "revisits"));
    }
    // Escalations awaiting a response (the supervision list's), with the district's share and the period's flow.
    // And the rectification notices open (overdue ones escalate like any late item).
    const sv = f.supervision;
    const rn = f.notices || { open: 0, overdue: 0 };
    if (sv && withRevisits) {
      out.push(tile(t(texts, "ind.supervision"), String(sv.open),
        t(texts, "ind.supervision.detail", { district: sv.open_district, raised: sv.raised, responded: sv.responded,
          notices: rn.open, notices_overdue: rn.overdue }),
        sv.open_district || rn.overdue ? "bad" : (sv.open || rn.open ? "warn" : "ok"), "supervision"));
    }
    // Data timeliness: the share of entries kept within their source's budget (110 in 2 minutes, grid data in 5),
    // each source's 95th percentile, and any source gone quiet (live only).
    const tl = f.timeliness;
    if (tl && withRevisits) {
      const p95 = function (source) {
        const s = tl.sources[source];
        return s.p95_s === null ? "–" : minutes(s.p95_s / 60);
      };
      const quiet = (tl.silent || []).map(function (q) {
        return t(texts, "ind.timeliness.silent", { source: t(texts, "source." + q.source),
          minutes: Math.floor(q.silent_s / 60) });
      });
      out.push(tile(t(texts, "ind.timeliness"), pct(tl.rate),
        [t(texts, "ind.timeliness.detail", { p110: p95("110"), p12345: p95("12345"), grid: p95("grid"),
          sensor: p95("sensor"), over: tl.over })].concat(quiet).join(" · "),
        quiet.length ? "bad" : status(tl.rate, targets.timeliness), "timeliness"));
    }
    // The mediation centre: its success rate against 90%, its open cases and how many of its clocks were missed.
    const md = f.mediation;
    if (md && withRevisits) {
      out.push(tile(t(texts, "ind.mediation"), pct(md.success_rate),
        t(texts, "ind.mediation.detail", { open: md.open, opened: md.opened, clocks: pct(md.clock_rate),
          missed: md.clocks_missed }),
        md.success_rate !== null && md.success_rate < md.success_target ? "bad" : (md.clocks_missed ? "warn" : "ok"),
        "mediation"));
    }
    return out;
  }

  function fillTiles(id, f, texts, withRevisits) {
    const box = document.getElementById(id);
    if (!box) { return; }
    const fragment = document.createDocumentFragment();
    if (f) { tiles(f, texts, withRevisits).forEach(function (node) { fragment.appendChild(node); }); }
    else { fragment.appendChild(el("p", "empty-hint", t(texts, "ind.waiting"))); }
    box.replaceChildren(fragment);
  }

  // -- the stations table (a click drills into the station) ------------------------------------

  function fillStations(id, scopeId, texts, selected) {
    const box = document.getElementById(id);
    if (!box || !state.latest) { return; }
    const scopes = state.latest.scopes;
    const table = el("table", "ind-table");
    const head = el("tr");
    ["ind.col.station", "ind.col.incidents", "ind.col.repeat", "ind.col.open", "ind.col.overdue", "ind.col.arrival",
     "ind.col.on_time", "ind.col.leads", "ind.col.verification", "ind.col.completeness", "ind.col.devices"]
      .forEach(function (key) { head.appendChild(el("th", null, t(texts, key))); });
    const thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
    const body = el("tbody");
    Object.keys(scopes).forEach(function (code) {
      const f = scopes[code];
      const row = el("tr", code === selected ? "selected" : "");
      row.setAttribute("data-scope", code);
      const name = code === texts.districtScope ? t(texts, "ind.scope.district") : ((texts.stations || {})[code] || code);
      [name, String(f.incidents.count), String(f.repeat.incidents), String(f.instructions.open),
       String(f.instructions.overdue), minutes(f.arrival.median_min), pct(f.arrival.on_time),
       pct(f.leads.disposal_rate), pct(f.verification.rate), pct(f.completeness.rate),
       f.devices ? pct(f.devices.rate) : "–"].forEach(function (value, i) {
        const cell = el("td", i === 4 && f.instructions.overdue ? "bad" : "", value);
        row.appendChild(cell);
      });
      row.addEventListener("click", function () { window.dash_clientside.set_props(scopeId, { value: code }); });
      body.appendChild(row);
    });
    table.appendChild(body);
    box.replaceChildren(table);
  }

  // -- charts --------------------------------------------------------------------------------

  // k scales type and margins: 1 on a desk, more on the wall (see pingan_screen.js).
  function layout(texts, k, extra) {
    return Object.assign({
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      font: { color: COLOURS.text, size: 12 * k, family: "Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif" },
      margin: { l: 40 * k, r: 16 * k, t: 32 * k, b: 32 * k },
      xaxis: { gridcolor: COLOURS.grid, zerolinecolor: COLOURS.grid },
      yaxis: { gridcolor: COLOURS.grid, zerolinecolor: COLOURS.grid, rangemode: "tozero" },
      legend: { orientation: "h", y: 1.12, x: 0 },
      showlegend: true,
    }, extra || {});
  }

  // Counts get whole-number ticks (never 0.5 incidents), at most about five of them.
  function countAxis(values) {
    const peak = Math.max.apply(null, [1].concat(values));
    return { tick0: 0, dtick: Math.max(1, Math.ceil(peak / 5)), gridcolor: COLOURS.grid, rangemode: "tozero" };
  }

  function title(text_, k) { return { text: text_, font: { size: 14 * k }, x: 0.01, xanchor: "left" }; }

  function trendFigure(f, texts, k) {
    const hours = f.incidents.trend.map(function (_, i) { return i; });
    const ticks = hours.filter(function (h) { return h % 3 === 0; });
    return {
      data: [
        { type: "bar", x: hours, y: f.incidents.trend, name: t(texts, "ind.trend.today"), marker: { color: COLOURS.today } },
        { type: "scatter", mode: "lines", x: hours, y: f.incidents.trend_comparison, name: t(texts, "ind.trend.before"),
          line: { color: COLOURS.before, dash: "dot", width: 2 * k } },
      ],
      layout: layout(texts, k, { title: title(t(texts, "ind.trend"), k), bargap: 0.15,
        xaxis: { tickvals: ticks, ticktext: ticks.map(function (h) { return String(h).padStart(2, "0") + ":00"; }),
                 gridcolor: COLOURS.grid, tickangle: 0 },
        yaxis: countAxis(f.incidents.trend.concat(f.incidents.trend_comparison)) }),
    };
  }

  function categoryFigure(f, texts, k) {
    const entries = Object.entries(f.incidents.by_category).slice(0, 8).reverse();
    return {
      data: [{ type: "bar", orientation: "h", y: entries.map(function (e) { return t(texts, "category." + e[0]); }),
               x: entries.map(function (e) { return e[1]; }), marker: { color: COLOURS.neutral } }],
      layout: layout(texts, k, { title: title(t(texts, "ind.categories"), k), showlegend: false,
                                  xaxis: countAxis(entries.map(function (e) { return e[1]; })),
                                  margin: { l: 90 * k, r: 16 * k, t: 32 * k, b: 24 * k } }),
    };
  }

  // Minutes per bar (the last bar: 30 and more) with the targets drawn as lines.
  function distributionFigure(durations, targets, key, texts, k) {
    const bars = durations.histogram;
    const x = bars.map(function (_, i) { return i === bars.length - 1 ? "≥" + i : String(i); });
    const shapes = targets.map(function (m) {
      return { type: "line", xref: "x", yref: "paper", x0: String(m), x1: String(m), y0: 0, y1: 1,
               line: { color: COLOURS.warn, width: 2 * k, dash: "dash" } };
    });
    const notes = targets.map(function (m) {
      return { x: String(m), y: 1, xref: "x", yref: "paper", yanchor: "bottom", showarrow: false,
               text: t(texts, "ind.target_line", { minutes: m }), font: { color: COLOURS.warn } };
    });
    return {
      data: [{ type: "bar", x: x, y: bars, marker: { color: COLOURS.neutral }, name: t(texts, key) }],
      layout: layout(texts, k, {
        title: title(t(texts, key) + " · " + t(texts, "ind.median_p90",
          { median: minutes(durations.median_min), p90: minutes(durations.p90_min), count: durations.count }), k),
        shapes: shapes, annotations: notes, showlegend: false, bargap: 0.05,
        xaxis: { title: { text: t(texts, "ind.minutes") }, type: "category", gridcolor: COLOURS.grid },
        yaxis: countAxis(bars),
      }),
    };
  }

  function gaugeFigure(f, texts, k, wide) {
    const targets = texts.indicatorTargets;
    const shown = GAUGES.filter(function (g) { return g[0] !== "devices.rate" || f.devices; });
    const columns = wide ? shown.length : 3;
    const rows = Math.ceil(shown.length / columns);
    const data = shown.map(function (g, i) {
      const value = pick(f, g[0]);
      const target = g[2] ? targets[g[2]] : null;
      return {
        type: "indicator", mode: "gauge+number", value: value === null ? null : Math.round(value * 1000) / 10,
        number: { suffix: "%", font: { size: 20 * k } },
        title: { text: t(texts, g[1]), font: { size: 12 * k } },
        domain: { row: Math.floor(i / columns), column: i % columns },
        gauge: {
          // Few ticks (none at 100, where most targets draw their line); with none, Plotly grows the
          // gauge over its title.
          axis: { range: [0, 100], tickvals: [0, 50], tickcolor: COLOURS.muted, tickfont: { size: 9 * k } },
          bar: { color: COLOURS[status(value, target)] },
          bgcolor: "rgba(255,255,255,0.04)", borderwidth: 0,
          threshold: target === null ? undefined : { line: { color: COLOURS.text, width: 3 * k }, thickness: 0.85,
                                                      value: target * 100 },
        },
      };
    });
    return { data: data, layout: layout(texts, k, { grid: { rows: rows, columns: columns, pattern: "independent" },
      margin: { l: 24 * k, r: 24 * k, t: 24 * k, b: 8 * k }, showlegend: false }) };
  }

  window.pingan = Object.assign({}, window.pingan, {
    indicators: {
      state: state,
      // A pushed `indicators` event or the snapshot's figures.
      set: function (payload, versionId) {
        if (!payload) { return; }
        state.latest = payload;
        state.version += 1;
        if (versionId) { window.dash_clientside.set_props(versionId, { data: state.version }); }
      },
      scope: scopeOf,
      // The sources gone quiet, as the last figures say (the wall's overdue list shows them).
      silent: function () {
        const district = scopeOf("district");
        return (district && district.timeliness && district.timeliness.silent) || [];
      },
      pct: pct,
      minutes: minutes,
      fillTiles: fillTiles,
      trendFigure: trendFigure,
      gaugeFigure: gaugeFigure,
      // The main page's panel: [asof text, trend, categories, arrival, result, gauges].
      panel: function (_version, scope, shown, texts) {
        const NO = window.dash_clientside.no_update;
        if (!shown || !texts || !state.latest) { return [NO, NO, NO, NO, NO, NO]; }
        const f = scopeOf(scope);
        fillTiles(texts.indicatorTilesId, f, texts, true);
        fillStations(texts.indicatorStationsId, texts.indicatorScopeId, texts, scope);
        if (!f) { return [t(texts, "ind.waiting"), NO, NO, NO, NO, NO]; }
        const asof = new Date(state.latest.asof);
        return [
          t(texts, "ind.asof", { period: state.latest.period.label,
            time: asof.toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) }),
          trendFigure(f, texts, 1), categoryFigure(f, texts, 1),
          distributionFigure(f.arrival, texts.arrivalTargetsMin, "ind.arrival_dist", texts, 1),
          distributionFigure(f.result, [texts.indicatorTargets.result_minutes], "ind.result_dist", texts, 1),
          gaugeFigure(f, texts, 1, true),
        ];
      },
    },
  });
})();
