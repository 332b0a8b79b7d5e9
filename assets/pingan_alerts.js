/* The sensor-alert queue and device health, driven by pushed events (pingan_live.js feeds it).
 *
 * Every unverified alert stays in the queue until a verdict arrives (from this officer or
 * another): none is dropped, however many come at once. The queue shows the most urgent
 * cards (overdue first, then by risk, then oldest) and counts the rest; each card runs its
 * one-minute verification clock. Text from devices is always set with textContent.
 * Device health recolours the device layer through its hideout, at most once a second.
 */
(function () {
  "use strict";
  const SHOWN = 4;  // cards on screen; the rest wait, counted
  const HEALTH_EVERY_MS = 1000;
  const OPEN_KEPT = 1000;
  const state = {
    open: new Map(),       // event_id -> alert payload (waiting for a verdict)
    health: {},            // device_id -> offline / faulty
    healthDirty: false, healthSentAt: 0,
    texts: null, renderedKey: "",
    queuedAt: null,        // event_id -> when it joined the on-screen queue (set by recordQueue(): tests, benchmarks)
  };

  // Catalogue text and safe elements: shared with the live layer (window.pingan.dom, pingan_live.js).
  function t(key, values) { return window.pingan.dom.text(state.texts, key, values); }
  function el(tag, className, text) { return window.pingan.dom.el(tag, className, text); }

  function place(a) {
    if (a.compound) {
      return a.compound + " " + t("alert.place.building", { building: a.building }) +
        (a.floor ? t("alert.place.floor", { floor: a.floor }) : "");
    }
    return a.site_kind ? t("site." + a.site_kind) : "";
  }

  function secondsLeft(a, now) { return (Date.parse(a.verify_due) - now) / 1000; }

  function ordered(now) {
    return Array.from(state.open.values()).sort(function (x, y) {
      const lateX = secondsLeft(x, now) < 0, lateY = secondsLeft(y, now) < 0;
      return (lateY - lateX) || ((x.risk || 9) - (y.risk || 9)) || (Date.parse(x.received_at) - Date.parse(y.received_at));
    });
  }

  function act(a, verdict, reason) {
    window.dash_clientside.set_props(state.texts.alertActionId,
      { data: { event_id: a.event_id, verdict: verdict, reason: reason || "", nonce: Date.now() } });
  }

  function card(a, now) {
    const left = secondsLeft(a, now);
    const li = el("li", "alert-card risk-" + (a.risk || 3) + (left < 0 ? " overdue" : ""));
    li.setAttribute("data-event-id", a.event_id);
    const head = el("div", "alert-head");
    head.appendChild(el("span", "alert-scenario", t("scenario." + a.scenario)));
    head.appendChild(el("span", "alert-risk", t("alert.risk." + (a.risk || 3))));
    const clock = el("span", "alert-clock", left < 0 ? t("alert.overdue", { seconds: Math.round(-left) })
      : Math.ceil(left) + "s");
    head.appendChild(clock);
    li.appendChild(head);
    li.appendChild(el("div", "alert-place", a.grid + " " + place(a)));
    const value = a.value !== null && a.value !== undefined ? " · " + a.value : "";
    li.appendChild(el("div", "alert-device", t("device." + a.device_type) + " " + a.device_id + value));
    if (a.grid_told) {  // the grid worker and property manager already have the SMS: the verdict follows up
      li.appendChild(el("div", "alert-told", t("alert.told")));
    }
    // What the camera saw and sees now (pingan_video.js keeps the block, and its stream, across redraws).
    const media = window.pingan.video ? window.pingan.video.alertMedia(a) : null;
    if (media) { li.appendChild(media); }
    if (a.snapshot_refused) {
      li.appendChild(el("div", "alert-snapshot-refused",
        t("alert.snapshot.refused", { reason: t("alert.snapshot.reason." + a.snapshot_refused) })));
    }
    if (state.texts.canVerify) {
      const actions = el("div", "alert-actions");
      const dispatch = el("button", "btn small primary alert-dispatch", t("alert.verdict.dispatched"));
      dispatch.addEventListener("click", function () { act(a, "dispatched"); });
      const worker = el("button", "btn small alert-worker", t("alert.verdict.to_grid_worker"));
      worker.addEventListener("click", function () { act(a, "to_grid_worker"); });
      const reason = el("select", "alert-reason");
      ["misfire", "test", "environment", "other"].forEach(function (key) {
        const option = el("option", null, t("alert.reason." + key));
        option.value = t("alert.reason." + key);
        reason.appendChild(option);
      });
      const dismiss = el("button", "btn small alert-dismiss", t("alert.verdict.false_alarm"));
      dismiss.addEventListener("click", function () { act(a, "false_alarm", reason.value); });
      [dispatch, worker, reason, dismiss].forEach(function (node) { actions.appendChild(node); });
      li.appendChild(actions);
    }
    return li;
  }

  function render() {
    const now = window.pingan.clock.now();  // the clocks on the cards run on the server's time
    flushHealth(Date.now());  // the big screen colours devices but has no queue
    const list = state.texts && document.getElementById(state.texts.alertListId);
    if (!list) { return; }
    const cards = ordered(now).slice(0, SHOWN);
    // Rebuild only when the shown cards or their seconds change (once a second at most).
    const key = cards.map(function (a) { return a.event_id + ":" + Math.ceil(secondsLeft(a, now)); }).join("|");
    if (key !== state.renderedKey) {
      state.renderedKey = key;
      const fragment = document.createDocumentFragment();
      cards.forEach(function (a) { fragment.appendChild(card(a, now)); });
      list.replaceChildren(fragment);
    }
    if (window.pingan.video) {  // an alert with a verdict takes its live view with it
      Array.from(window.pingan.video.state.alertMedia.keys()).forEach(function (eventId) {
        if (!state.open.has(eventId)) { window.pingan.video.dropAlert(eventId); }
      });
    }
    const queue = document.getElementById(state.texts.alertQueueId);
    if (queue) { queue.classList.toggle("has-alerts", state.open.size > 0); }
  }

  function flushHealth(now) {
    if (!state.texts || !state.healthDirty || now - state.healthSentAt < HEALTH_EVERY_MS) { return; }
    state.healthDirty = false;
    state.healthSentAt = now;
    window.dash_clientside.set_props(state.texts.deviceLayerId, { hideout: { health: Object.assign({}, state.health) } });
    if (window.pingan.devices) { window.pingan.devices.healthChanged(state.health); }  // the layer's dots and clusters
  }

  window.pingan = Object.assign({}, window.pingan, {
    alerts: {
      state: state,
      setTexts: function (texts) { state.texts = texts; },
      add: function (a) {
        if (a.kind !== "alert" || !a.verify_due) { return; }
        state.open.set(a.event_id, a);
        // Unattended (a wall, a night without verdicts), the queue keeps the newest OPEN_KEPT.
        while (state.open.size > OPEN_KEPT) { state.open.delete(state.open.keys().next().value); }
        if (state.queuedAt && !state.queuedAt.has(a.event_id)) { state.queuedAt.set(a.event_id, Date.now()); }
      },
      recordQueue: function () { state.queuedAt = state.queuedAt || new Map(); return true; },
      verified: function (v) { state.open.delete(v.event_id); },
      health: function (h) {
        if (h.health === "online") { delete state.health[h.device_id]; } else { state.health[h.device_id] = h.health; }
        state.healthDirty = true;
      },
      // Many devices changed at once (a city's fleet heard for the first time, a platform's outage): the server
      // sends every device not online in one event instead of one event each.
      healthAll: function (notOnline) {
        state.health = Object.assign({}, notOnline || {});
        state.healthDirty = true;
      },
      snapshot: function (alerts, health) {
        state.open.clear();
        (alerts || []).forEach(function (a) { state.open.set(a.event_id, a); });
        state.health = Object.assign({}, health || {});
        state.healthDirty = true;
      },
      render: render,
      // A device's tooltip (a text node: device data is never HTML).
      describe: function (props) {
        const health = state.health[props.device_id] || "online";
        const where = props.compound ? place({ compound: props.compound, building: props.building, floor: props.floor })
          : (props.site_kind ? t("site." + props.site_kind) : "");
        return document.createTextNode(t("device." + props.type) + " " + props.device_id + " · " + props.grid + " " +
          where + " · " + t("device.health." + health));
      },
      // How many cards the queue shows (its counts are the server's figures: pingan_live.js).
      shown: function () { return Math.min(state.open.size, SHOWN); },
    },
  });
})();
