/* A grid worker's phone (/m/): their grids' tasks as cards, the late and newest first, each with its clock.
 *
 * The tasks come through the same pushed batches as the hall's (pingan_live.js applies them; the
 * lens keeps them to the worker's grids) into the same store (pingan_tasks.js). A card is rebuilt
 * only when its task moves, so a note being typed survives the clocks ticking. Each step goes to
 * the server through one store (texts.phoneActionId); "on scene" sends the phone's position when
 * it gives one. Photos go one by one straight to the server (texts.urls.taskPhotos, the picture as the
 * body), made smaller here first when the phone can decode them, for a weak network; the server checks
 * and cleans each again. A card's photo strip follows the task's pushed photos. Text from the field is
 * always set with textContent.
 */
(function () {
  "use strict";
  const NO = function () { return window.dash_clientside.no_update; };
  const OUTCOMES = ["resolved", "false_alarm", "referred"];  // OUTCOMES in callbacks/phone.py
  const RETRY_AFTER_MS = 4000;  // a step's buttons come back if no answer moved the task by then
  const MAX_PHOTOS = 3;  // MAX_PHOTOS in gridwork/tasks.py
  const SEND_AS_IS_BYTES = 1500000;  // a photo this small goes as taken; a larger one is redrawn smaller
  const SEND_SIDE = 2560;  // MAX_SIDE in media/photos.py: the server keeps no more
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

  function fill(template, parts) {
    return template.replace(/<([a-z_]+)>/g, function (_, name) { return encodeURIComponent(parts[name]); });
  }

  // A large photo redrawn at the size the server keeps, as a JPEG (upright, without the phone's EXIF):
  // a tenth of the bytes over a weak network. What the phone cannot decode goes as it is, for the
  // server to judge.
  function smaller(file) {
    if (file.size <= SEND_AS_IS_BYTES || !window.createImageBitmap) { return Promise.resolve(file); }
    return window.createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      const scale = Math.min(1, SEND_SIDE / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) { resolve(blob && blob.size < file.size ? blob : file); }, "image/jpeg", 0.85);
      });
    }).catch(function () { return file; });
  }

  function sendPhoto(task, file, message) {
    message.textContent = t("phone.photo.sending");
    return smaller(file).then(function (body) {
      return fetch(fill(state.texts.urls.taskPhotos, { task_id: task.task_id }), {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "Content-Type": body.type || "application/octet-stream",
          "X-CSRFToken": window.pingan.auth.csrfToken() },
      });
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        message.textContent = response.ok ? t("phone.photo.sent")
          : t("phone.photo.failed", { reason: answer.error || response.status });
      });
    }, function () { message.textContent = t("phone.photo.offline"); });
  }

  function photoPicker(task, message) {
    const box = el("div", "pt-photos");
    box.appendChild(el("div", "pt-photos-title"));
    box.appendChild(el("div", "pt-thumbs"));
    const input = el("input", "pt-photo-input");
    input.type = "file";
    input.accept = "image/jpeg,image/png,image/webp";
    input.setAttribute("capture", "environment");
    input.multiple = true;
    input.hidden = true;
    const add = el("button", "pt-btn pt-photo-add", t("phone.photo.add"));
    add.type = "button";
    add.addEventListener("click", function () { input.click(); });
    input.addEventListener("change", function () {
      const files = Array.prototype.slice.call(input.files || [], 0, MAX_PHOTOS);
      input.value = "";
      // One after another: on a weak network two at once only make both slow.
      files.reduce(function (done, file) {
        return done.then(function () { return sendPhoto(task, file, message); });
      }, Promise.resolve());
    });
    box.appendChild(input);
    box.appendChild(add);
    return box;
  }

  // The strip of a card's photos, redrawn only when the task's photos change.
  function showPhotos(card, task) {
    const photos = task.photos || [];
    const key = photos.join(",");
    if (card.getAttribute("data-photos") === key) { return; }
    card.setAttribute("data-photos", key);
    const box = card.querySelector(".pt-photos");
    if (box) {
      box.querySelector(".pt-photos-title").textContent = t("phone.photos", { count: photos.length });
      const strip = box.querySelector(".pt-thumbs");
      strip.replaceChildren();
      photos.forEach(function (sha) {
        const img = el("img", "pt-thumb");
        img.src = fill(state.texts.urls.media, { variant: "thumb", name: sha + ".jpg" });
        img.alt = "";
        strip.appendChild(img);
      });
      box.querySelector(".pt-photo-add").hidden = photos.length >= MAX_PHOTOS;
    }
    const report = card.querySelector(".pt-report");
    if (report && task.kind === "alert") {  // "photo + note": an alert's result waits for a photo
      report.disabled = !photos.length;
      card.querySelector(".pt-photo-needed").hidden = photos.length > 0;
    }
  }

  // The volunteers of a task's grid, if this phone is its grid worker's (the page lists them per grid).
  function volunteersOf(task) {
    const holder = document.getElementById(state.texts.phoneVolunteersId);
    if (!holder) { return []; }
    if (!state.volunteers) {
      try { state.volunteers = JSON.parse(holder.getAttribute("data-volunteers") || "{}"); } catch (e) { state.volunteers = {}; }
    }
    return state.volunteers[task.grid] || [];
  }

  // "Hand to a volunteer": choose one of the grid's volunteers, then confirm.
  function handOver(task, row, card) {
    const names = volunteersOf(task);
    if (task.volunteer || !names.length) { return; }
    const box = el("div", "pt-hand");
    box.hidden = true;
    const choice = el("select", "pt-volunteer");
    choice.setAttribute("aria-label", t("phone.hand.choose"));
    names.forEach(function (name) {
      const option = el("option", null, name);
      option.value = name;
      choice.appendChild(option);
    });
    box.appendChild(choice);
    box.appendChild(button(t("phone.hand.confirm"), "pt-hand-send", function () {
      send(task, "hand", { volunteer: choice.value });
    }));
    const open = el("button", "pt-btn pt-hand-open", t("phone.hand"));
    open.type = "button";
    open.addEventListener("click", function () { box.hidden = !box.hidden; });
    row.appendChild(open);
    card.appendChild(box);
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
      card.appendChild(photoPicker(task, message));
      card.appendChild(outcome);
      card.appendChild(note);
      const report = button(t("phone.report"), "primary pt-report", function () {
        send(task, "report", { outcome: outcome.value, note: note.value });
      });
      row.appendChild(report);
      if (task.kind === "alert") { card.appendChild(el("div", "pt-photo-needed", t("phone.photo.needed"))); }
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
    handOver(task, row, card);
    card.appendChild(back);
    card.appendChild(message);
  }

  function buildCard(task) {
    const card = el("li", "phone-task");
    card.setAttribute("data-task-id", task.task_id);
    card.setAttribute("data-state", task.state);
    card.setAttribute("data-volunteer", task.volunteer || "");
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
    if (task.volunteer) { card.appendChild(el("div", "pt-volunteer-line", t("tasks.volunteer", { name: task.volunteer }))); }
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
      if (!card || card.getAttribute("data-state") !== task.state ||
          card.getAttribute("data-volunteer") !== (task.volunteer || "")) {
        const fresh = buildCard(task);
        if (card) { card.replaceWith(fresh); }
        card = fresh;
        state.cards.set(task.task_id, card);
      }
      showPhotos(card, task);
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
