/* The hall's list of grid workers' tasks, driven by pushed events (pingan_live.js feeds it).
 *
 * Each task runs the clock it is judged by (gridwork/tasks.py): "on scene" from the task until the
 * worker arrives, then "result" (an hour from arrival for an alert; from the task for a lead or a
 * hazard). Amber from the share of the budget the server names (texts.amberFrom), red when
 * breached; late tasks first. A finished task stays an hour, marked, so the hall sees it land.
 * Summaries come from devices and people: always set with textContent.
 */
(function () {
  "use strict";
  const FINISHED_SHOWN_MS = 3600 * 1000;  // FINISHED_SHOWN in gridwork/tasks.py
  const KEPT = 500;
  const ENDED = { returned: true, withdrawn: true };
  const state = { tasks: new Map(), texts: null, renderedKey: "",
    shownAt: null };  // ref -> when its task first reached this page (set by recordShown(): benchmarks)

  function t(key, values) { return window.pingan.dom.text(state.texts, key, values); }
  function el(tag, className, text) { return window.pingan.dom.el(tag, className, text); }

  // The clock a task runs against at `now` (ms): {step, level, left (s)}; finished tasks have no time left.
  function clockOf(task, now) {
    if (task.state === "reported") { return { step: null, level: "done", left: null }; }
    if (ENDED[task.state]) { return { step: null, level: "ended", left: null }; }
    let step, start, due;
    if (task.on_scene_due && !task.on_scene_at) {
      step = "on_scene"; start = task.created_at; due = task.on_scene_due;
    } else if (task.result_due) {
      step = "result"; start = task.kind === "alert" && task.on_scene_at ? task.on_scene_at : task.created_at;
      due = task.result_due;
    } else {
      return { step: null, level: "ok", left: null };
    }
    const left = (Date.parse(due) - now) / 1000;
    const budget = (Date.parse(due) - Date.parse(start)) / 1000;
    const amberFrom = (state.texts && state.texts.amberFrom) || 0.8;
    const level = left < 0 ? "red" : (budget > 0 && budget - left >= amberFrom * budget ? "amber" : "ok");
    return { step: step, level: level, left: left };
  }

  function clockText(c) {
    if (c.level === "done") { return "✓"; }
    if (c.left === null) { return "—"; }
    const s = Math.abs(Math.round(c.left));
    const hours = Math.floor(s / 3600);
    const mmss = Math.floor((s % 3600) / 60) + ":" + String(s % 60).padStart(2, "0");
    return (c.left < 0 ? "+" : "") + (hours ? hours + ":" + mmss.padStart(5, "0") : mmss);
  }

  function finishedAt(task) { return Date.parse(task.reported_at || task.ended_at || "") || null; }

  function ordered(now) {
    const rank = { red: 0, amber: 1, ok: 2, done: 3, ended: 4 };
    return Array.from(state.tasks.values()).map(function (task) { return { task: task, clock: clockOf(task, now) }; })
      .sort(function (a, b) {
        return rank[a.clock.level] - rank[b.clock.level] || (a.clock.left || 0) - (b.clock.left || 0) ||
          Date.parse(a.task.created_at) - Date.parse(b.task.created_at);
      });
  }

  function mediaUrl(variant, sha) {
    return state.texts.urls.media.replace("<variant>", variant).replace("<name>", sha + ".jpg");
  }

  // The photos from the scene: thumbnails, each opening the whole picture.
  function photoStrip(photos) {
    const strip = el("span", "task-photos");
    strip.setAttribute("title", t("tasks.photos", { count: photos.length }));
    photos.forEach(function (sha) {
      const link = el("a", "task-photo");
      link.href = mediaUrl("photo", sha);
      link.target = "_blank";
      link.rel = "noopener";
      const img = el("img", null);
      img.src = mediaUrl("thumb", sha);
      img.alt = t("tasks.photos", { count: photos.length });
      link.appendChild(img);
      strip.appendChild(link);
    });
    return strip;
  }

  function row(item) {
    const task = item.task;
    const li = el("li", "task " + item.clock.level);
    li.setAttribute("data-task-id", task.task_id);
    li.setAttribute("data-state", task.state);
    li.appendChild(el("span", "task-clock", clockText(item.clock)));
    li.appendChild(el("span", "task-worker", task.worker + " · " + task.grid +
      (task.volunteer ? " · " + t("tasks.volunteer", { name: task.volunteer }) : "")));
    li.appendChild(el("span", "task-state", t("tasks.state." + task.state) +
      (item.clock.step ? " · " + t("tasks.step." + item.clock.step) : "")));
    li.appendChild(el("span", "task-summary", t("tasks.kind." + task.kind) + " " + task.summary));
    if (task.far) { li.appendChild(el("span", "task-far", t("tasks.far", { metres: task.distance_m }))); }
    if ((task.photos || []).length) { li.appendChild(photoStrip(task.photos)); }
    return li;
  }

  function render() {
    const list = state.texts && document.getElementById(state.texts.taskListId);
    if (!list) { return; }
    const now = window.pingan.clock.now();  // the clocks run on the server's time
    state.tasks.forEach(function (task, id) {  // finished an hour ago: off the list
      const finished = finishedAt(task);
      if (finished !== null && now - finished > FINISHED_SHOWN_MS) { state.tasks.delete(id); }
    });
    const items = ordered(now);
    // Rebuild only when what is shown changes (the clocks tick once a second).
    const key = items.map(function (i) { return i.task.task_id + i.task.state + clockText(i.clock) + i.clock.level +
      (i.task.photos || []).length; })
      .join("|");
    if (key === state.renderedKey) { return; }
    state.renderedKey = key;
    const fragment = document.createDocumentFragment();
    items.forEach(function (item) { fragment.appendChild(row(item)); });
    if (!items.length) { fragment.appendChild(el("li", "empty-hint", t("tasks.empty"))); }
    list.replaceChildren(fragment);
  }

  function keep(task) {
    if (state.shownAt && !state.shownAt.has(task.ref)) { state.shownAt.set(task.ref, Date.now()); }
    state.tasks.set(task.task_id, task);
    while (state.tasks.size > KEPT) { state.tasks.delete(state.tasks.keys().next().value); }
  }

  window.pingan = Object.assign({}, window.pingan, {
    tasks: {
      state: state,
      setTexts: function (texts) { state.texts = texts; },
      update: keep,
      snapshot: function (tasks) { state.tasks.clear(); (tasks || []).forEach(keep); state.renderedKey = ""; },
      render: render,
      clockOf: clockOf,
      clockText: clockText,
      recordShown: function () { state.shownAt = state.shownAt || new Map(); return true; },
      ordered: ordered,  // [{task, clock}]: the late first, then by time left (the phone's cards too)
    },
  });
})();
