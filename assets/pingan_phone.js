/* A grid worker's phone (/m/): their grids' tasks as cards, the late and newest first, each with its clock.
 *
 * The tasks come through the same pushed batches as the hall's (pingan_live.js applies them; the
 * lens keeps them to the worker's grids) into the same store (pingan_tasks.js). A card is rebuilt
 * only when its task moves, so a note being typed survives the clocks ticking. Each step goes to
 * the server through one store (texts.phoneActionId); "on scene" sends the phone's position when
 * it gives one. Text from the field is always set with textContent.
 */
(function () {
  "use strict";
  const NO = function () { return window.dash_clientside.no_update; };
  const OUTCOMES = ["resolved", "false_alarm", "referred"];  // OUTCOMES in callbacks/phone.py
  const RETRY_AFTER_MS = 4000;  // a step's buttons come back if no answer moved the task by then
  const state = { texts: null, cards: new Map(), order: null, status: null };

  function live() { return window.pingan.live; }
  function tasks() { return window.pingan.tasks; }
  function t(key, values) { return window.pingan.dom.text(state.texts, key, values); }
  function el(tag, className, text) { return window.pingan.dom.el(tag, className, text); }

  function send(task, action, extra) {
    window.dash_clientside.set_props(state.texts.phoneActionId,
      { data: Object.assign({ task_id: task.task_id, action: action, nonce: Date.now() }, extra || {}) });
  }

  function button(label, className, onClick) {
    const b = el("button", "pt-btn " + className, label);
    b.type = "button";
    b.addEventListener("click", function () {
      b.disabled = true;  // one tap, one step: it comes back if the answer does not move the task
      window.setTimeout(function () { b.disabled = false; }, RETRY_AFTER_MS);
      onClick();
    });
    return b;
  }

  function arrive(task, message) {
    const geo = window.navigator.geolocation;
    if (!geo) { send(task, "arrive"); return; }
    message.textContent = t("phone.locating");
    geo.getCurrentPosition(function (pos) {
      send(task, "arrive", { lon: pos.coords.longitude, lat: pos.coords.latitude });
    }, function () { send(task, "arrive"); }, { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
  }

  function textBox(className, label) {
    const box = el("textarea", className);
    box.setAttribute("aria-label", label);
    box.placeholder = label;
    box.maxLength = 500;
    return box;
  }

  function actions(task, card) {
    const row = el("div", "pt-actions");
    const message = el("div", "pt-note-line");
    if (task.state === "assigned") {
      row.appendChild(button(t("phone.accept"), "primary pt-accept", function () { send(task, "accept"); }));
    }
    if (task.state === "assigned" || task.state === "accepted") {
      row.appendChild(button(t("phone.arrive"), (task.state === "accepted" ? "primary " : "") + "pt-arrive",
        function () { arrive(task, message); }));
    }
    if (task.state === "on_scene") {
      const outcome = el("select", "pt-outcome");
      OUTCOMES.forEach(function (key) {
        const option = el("option", null, t("phone.outcome." + key));
        option.value = key;
        outcome.appendChild(option);
      });
      const note = textBox("pt-note", t("phone.note"));
      card.appendChild(outcome);
      card.appendChild(note);
      row.appendChild(button(t("phone.report"), "primary pt-report", function () {
        send(task, "report", { outcome: outcome.value, note: note.value });
      }));
    }
    // "Cannot handle" asks for the reason before it sends anything.
    const back = el("div", "pt-giveback");
    back.hidden = true;
    const reason = textBox("pt-reason", t("phone.reason"));
    back.appendChild(reason);
    back.appendChild(button(t("phone.give_back.confirm"), "pt-giveback-send", function () {
      send(task, "give_back", { note: reason.value });
    }));
    const open = el("button", "pt-btn pt-giveback-open", t("phone.give_back"));
    open.type = "button";
    open.addEventListener("click", function () { back.hidden = !back.hidden; if (!back.hidden) { reason.focus(); } });
    row.appendChild(open);
    card.appendChild(row);
    card.appendChild(back);
    card.appendChild(message);
  }

  function buildCard(task) {
    const card = el("li", "phone-task");
    card.setAttribute("data-task-id", task.task_id);
    card.setAttribute("data-state", task.state);
    const head = el("div", "pt-head");
    head.appendChild(el("span", "pt-clock"));
    head.appendChild(el("span", "pt-kind", t("tasks.kind." + task.kind)));
    head.appendChild(el("span", "pt-state"));
    card.appendChild(head);
    card.appendChild(el("div", "pt-summary", task.summary));
    const place = el("div", "pt-place", task.grid);
    if (typeof task.lat === "number" && typeof task.lon === "number") {
      const nav = el("a", "pt-nav", t("phone.navigate"));
      nav.href = "geo:" + task.lat + "," + task.lon + "?q=" + task.lat + "," + task.lon;  // the phone's own map app
      place.appendChild(nav);
    }
    card.appendChild(place);
    if (task.far) { card.appendChild(el("div", "pt-far", t("tasks.far", { metres: task.distance_m }))); }
    if (task.state === "assigned" || task.state === "accepted" || task.state === "on_scene") { actions(task, card); }
    return card;
  }

  function render() {
    const list = state.texts && document.getElementById(state.texts.phoneListId);
    if (!list) { return; }
    const items = tasks().ordered(window.pingan.clock.now());
    const seen = new Set();
    items.forEach(function (item) {
      const task = item.task;
      seen.add(task.task_id);
      let card = state.cards.get(task.task_id);
      if (!card || card.getAttribute("data-state") !== task.state) {
        const fresh = buildCard(task);
        if (card) { card.replaceWith(fresh); }
        card = fresh;
        state.cards.set(task.task_id, card);
      }
      card.className = "phone-task " + item.clock.level;
      card.querySelector(".pt-clock").textContent = tasks().clockText(item.clock);
      card.querySelector(".pt-state").textContent = t("tasks.state." + task.state) +
        (item.clock.step ? " · " + t("tasks.step." + item.clock.step) : "");
    });
    state.cards.forEach(function (card, id) { if (!seen.has(id)) { card.remove(); state.cards.delete(id); } });
    // Re-placed only when the order changes: moving a card would take the focus from a note being typed.
    const order = items.map(function (item) { return item.task.task_id; }).join("|");
    if (order !== state.order) {
      state.order = order;
      const fragment = document.createDocumentFragment();
      items.forEach(function (item) { fragment.appendChild(state.cards.get(item.task.task_id)); });
      list.replaceChildren(fragment);
      if (!items.length) { list.appendChild(el("li", "empty-hint", t("phone.empty"))); }
    }
  }

  window.pingan = Object.assign({}, window.pingan, {
    phone: {
      state: state,
      render: render,
      update: function (batch, _tick, connected, texts) {
        if (!texts) { return [NO(), NO()]; }
        state.texts = texts;
        tasks().setTexts(texts);
        const triggered = (window.dash_clientside.callback_context.triggered || []).map(function (x) { return x.prop_id; });
        const isBatch = triggered.some(function (p) { return p.indexOf("data-batch") >= 0; });
        if (batch && isBatch) { live().apply(batch, texts); render(); }
        if (isBatch && triggered.length === 1) { return [NO(), NO()]; }
        live().apply(null, texts);  // once a second: the clocks run, the feed may go stale
        live().trimDashHistory();
        render();
        const status = live().statusOf(connected);
        const shown = status.join("|");
        if (shown === state.status) { return [NO(), NO()]; }  // Dash re-renders only what changed
        state.status = shown;
        return [status[1], "live-pill " + status[0]];
      },
    },
  });
})();
