// pingan_tasks.js: the hall's grid-task list. Protects the clock each task is judged by (on scene,
// then the result: from arrival for an alert, from the task otherwise), the amber share the server
// names, late tasks first, finished ones kept an hour, and text from the field set as text.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { page } = require("./harness");

const NOW = Date.parse("2026-12-04T02:00:00Z");
const TEXTS = { text: { "tasks.state.assigned": "待接收", "tasks.state.on_scene": "已到场", "tasks.empty": "暂无网格任务",
  "tasks.far": "到场位置距现场 {metres} 米" }, taskListId: "tasks", amberFrom: 0.8 };

function tasksPage() {
  const p = page('<ol id="tasks"></ol>', { now: NOW });
  p.load(["pingan_clock.js", "pingan_events.js", "pingan_live.js", "pingan_tasks.js"]);  // no sign-out timers
  const tasks = p.pingan().tasks;
  p.pingan().clock.sync({ now_ms: NOW, speed: 1 });
  tasks.setTexts(TEXTS);
  return { p: p, tasks: tasks };
}

function iso(ms) { return new Date(ms).toISOString(); }

// A task made `agoS` seconds before NOW with a five-minute on-scene clock.
function alertTask(id, agoS, extra) {
  const made = NOW - agoS * 1000;
  return Object.assign({ task_id: id, kind: "alert", state: "assigned", grid: "SC-001", worker: "陈伟",
    summary: "烟感 0.31", created_at: iso(made), on_scene_due: iso(made + 300000), result_due: null }, extra || {});
}

function rows(p) {
  return Array.from(p.document.querySelectorAll("#tasks li[data-task-id]"), function (li) {
    return [li.getAttribute("data-task-id"), li.className.replace("task ", ""), li.querySelector(".task-clock").textContent];
  });
}

test("each task runs its clock: green, amber from 80% of the budget, red once breached, late ones first", function () {
  const { p, tasks } = tasksPage();
  tasks.update(alertTask("fresh", 10));
  tasks.update(alertTask("amber", 240));  // 4 of its 5 minutes gone
  tasks.update(alertTask("late", 301));
  tasks.update(Object.assign(alertTask("done", 900), { state: "reported", reported_at: iso(NOW - 60000) }));
  tasks.render();
  assert.deepEqual(rows(p), [["late", "red", "+0:01"], ["amber", "amber", "1:00"], ["fresh", "ok", "4:50"],
    ["done", "done", "✓"]]);
  p.advance(1000);
  tasks.render();
  assert.deepEqual(rows(p)[0], ["late", "red", "+0:02"]);
});

test("arriving starts the alert's hour for the photo and note; a lead's result runs from the task", function () {
  const { tasks } = tasksPage();
  const arrived = alertTask("arrived", 600, { state: "on_scene", on_scene_at: iso(NOW - 300000),
    result_due: iso(NOW + 3300000) });
  const running = tasks.clockOf(arrived, NOW);
  assert.deepEqual([running.step, running.level, running.left], ["result", "ok", 3300]);
  assert.equal(tasks.clockText(tasks.clockOf(arrived, NOW)), "55:00");
  const made = NOW - (3 * 60 + 12) * 60000;  // 3 h 12 min ago: 80% of its 4 hours
  const lead = { task_id: "L", kind: "lead", state: "accepted", created_at: iso(made), on_scene_due: null,
    result_due: iso(made + 4 * 3600000) };
  assert.equal(tasks.clockOf(lead, NOW).level, "amber");
  assert.equal(tasks.clockOf(lead, NOW - 1000).level, "ok");
  assert.equal(tasks.clockText({ level: "ok", left: 2 * 3600 + 61 }), "2:01:01");
});

test("a finished task stays an hour, then leaves; a handed-back one shows no time", function () {
  const { p, tasks } = tasksPage();
  tasks.snapshot([Object.assign(alertTask("back", 100), { state: "returned", ended_at: iso(NOW) })]);
  tasks.render();
  assert.deepEqual(rows(p), [["back", "ended", "—"]]);
  p.advance(3600 * 1000 + 1000);
  tasks.render();
  assert.deepEqual(rows(p), []);
  assert.equal(p.document.querySelector("#tasks .empty-hint").textContent, "暂无网格任务");
});

test("text from the field is set as text, and an arrival far from the site is flagged", function () {
  const { p, tasks } = tasksPage();
  tasks.update(alertTask("x", 30, { summary: "<img src=x onerror=alert(1)>", state: "on_scene",
    on_scene_at: iso(NOW), result_due: iso(NOW + 3600000), far: true, distance_m: 860 }));
  tasks.render();
  assert.equal(p.document.querySelector("#tasks img"), null);
  assert.match(p.document.querySelector("#tasks .task-summary").textContent, /<img src=x/);
  assert.equal(p.document.querySelector("#tasks .task-far").textContent, "到场位置距现场 860 米");
});
