/* Live camera video: tiles that play a camera through the Janus gateway, wherever the page needs one.
 *
 * Video comes from the gateway to the browser over WebRTC; the page only signals through the dashboard
 * (/video/janus, which checks every request and adds the gateway's secret), with Debian's janus.js loaded on
 * first need. A tile shows what it is doing (connecting, live, offline, paused, refused); it is "live" only
 * while frames are presented (requestVideoFrameCallback), so a stalled stream reads "offline" and is watched
 * again every few seconds until frames come back. A page plays at most videoMaxStreams tiles at once (a
 * setting); a tile out of view or on a hidden page gives its place back. Where tiles appear:
 * - the alert card: the snapshot the camera sent, beside its live view (alertMedia);
 * - the dispatch panel: the cameras within VIDEO_NEAR_M of the incident, nearest first, click to watch;
 * - the wall: a tile following the newest urgent event, and the wall's own set (WALL_CAMERAS).
 * Text from outside (camera ids, reasons) is always set with textContent.
 */
(function () {
  "use strict";
  const STALL_MS = 2500;  // no frame presented for this long: offline
  const RETRY_MS = 3000;  // an offline tile watches again this often
  const TICK_MS = 500;
  const STATES = ["idle", "connecting", "live", "offline", "paused", "waiting", "refused", "off"];
  const state = {
    texts: null,
    janus: null,           // the page's one gateway session (a Promise of it)
    libraries: null,       // a Promise: janus.js and adapter.js loaded
    tiles: new Set(),
    alertMedia: new Map(), // event_id -> the card's media block (kept across the card's redraws)
    panelIncident: null,
    following: null,       // the wall's tile following the newest urgent event: {key, tile}
    wallSet: false,
    latency: null,         // {samples: [], first: []}: set by recordLatency() (tests, benchmarks)
  };

  function t(key, values) { return window.pingan.dom.text(state.texts, key, values); }
  function el(tag, className, text) { return window.pingan.dom.el(tag, className, text); }
  function urls() { return state.texts.urls; }
  function maxStreams() { return state.texts.videoMaxStreams || 4; }
  function playing() {
    let n = 0;
    state.tiles.forEach(function (tile) { if (tile.holdsPlace()) { n += 1; } });
    return n;
  }

  function csrfFetch(url, options) {
    const headers = Object.assign({}, options.headers || {}, { "X-CSRFToken": window.pingan.auth.csrfToken() });
    return fetch(url, Object.assign({}, options, { headers: headers, credentials: "same-origin" }));
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      const script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = function () { reject(new Error("cannot load " + src)); };
      document.head.appendChild(script);
    });
  }

  function libraries() {
    if (!state.libraries) {
      const lib = function (name) { return urls().videoLibrary.replace("<name>", name); };
      state.libraries = loadScript(lib("adapter.js")).then(function () { return loadScript(lib("janus.js")); })
        .then(function () {
          return new Promise(function (resolve) {
            window.Janus.init({ debug: false, dependencies: window.Janus.useDefaultDependencies({ fetch: csrfFetch }),
              callback: resolve });
          });
        });
      state.libraries.catch(function () { state.libraries = null; });
    }
    return state.libraries;
  }

  // The page's gateway session, made once and made again when it is lost (gateway restarted, network gone).
  function session() {
    if (!state.janus) {
      state.janus = libraries().then(function () {
        return new Promise(function (resolve, reject) {
          const janus = new window.Janus({
            server: window.location.origin + urls().videoGateway,
            success: function () { resolve(janus); },
            error: function (error) { state.janus = null; reject(error); },
            destroyed: function () { state.janus = null; },
          });
        });
      });
      state.janus.catch(function () { state.janus = null; });
    }
    return state.janus;
  }

  // The time a simulated camera drew into the frame (video/stamp.py), or null: 48 blocks of 20 px in 2 rows.
  const STAMP = { block: 20, columns: 24, rows: 2, margin: 4, bits: 48 };
  let stampCanvas = null;
  function readStamp(video) {
    const width = STAMP.margin * 2 + STAMP.columns * STAMP.block;
    const height = STAMP.margin * 2 + STAMP.rows * STAMP.block;
    if (!video.videoWidth || video.videoWidth < width) { return null; }
    stampCanvas = stampCanvas || document.createElement("canvas");
    stampCanvas.width = width;
    stampCanvas.height = height;
    const ctx = stampCanvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, width, height, 0, 0, width, height);
    const pixels = ctx.getImageData(0, 0, width, height).data;
    let word = 0n;
    for (let n = 0; n < STAMP.bits; n += 1) {
      const top = STAMP.margin + Math.floor(n / STAMP.columns) * STAMP.block;
      const left = STAMP.margin + (n % STAMP.columns) * STAMP.block;
      let sum = 0, count = 0;
      for (let y = top + 5; y < top + 15; y += 3) {
        for (let x = left + 5; x < left + 15; x += 3) { sum += pixels[(y * width + x) * 4]; count += 1; }
      }
      word = (word << 1n) | (sum / count > 125 ? 1n : 0n);
    }
    const value = word >> 8n, checksum = word & 0xFFn;
    let total = 0n;
    for (let k = 0n; k < 5n; k += 1n) { total += (value >> (8n * k)) & 0xFFn; }
    return (total & 0xFFn) === checksum ? Number(value) : null;
  }

  // A presented frame's delay from its capture (and, where the browser says, from capture to its last packet).
  function recordFrame(tile, now, metadata) {
    if (!state.latency) { return; }
    const stamp = readStamp(tile.video);
    if (stamp === null) { state.latency.unread += 1; return; }
    const delay = (now % 2 ** 40) - stamp;
    const received = metadata && metadata.receiveTime ?
      ((performance.timeOrigin + metadata.receiveTime) % 2 ** 40) - stamp : null;
    if (delay > -1000 && delay < 60000) {
      state.latency.samples.push({ device: tile.deviceId, ms: delay, received: received });
    }
  }

  /* One camera's tile. */
  function Tile(deviceId, options) {
    const tile = this;
    this.deviceId = deviceId;
    this.options = options || {};
    this.node = el("div", "video-tile");
    this.node.setAttribute("data-device-id", deviceId);
    this.video = document.createElement("video");
    this.video.muted = true;
    this.video.autoplay = true;
    this.video.playsInline = true;
    this.video.setAttribute("playsinline", "");
    this.label = el("div", "video-label");
    this.name = el("span", "video-name", deviceId + (this.options.caption ? " · " + this.options.caption : ""));
    this.status = el("span", "video-state");
    this.label.append(this.name, this.status);
    this.node.append(this.video, this.label);
    if (this.options.closable) {
      const close = el("button", "btn small video-close", t("video.close"));
      close.addEventListener("click", function () { tile.destroy(); });
      this.node.appendChild(close);
    }
    this.node.addEventListener("click", function () {
      if (tile.state === "waiting") { tile.want = true; tile.start(); }
    });
    this.handle = null;
    this.lastFrame = 0;
    this.startedAt = 0;
    this.retryAt = 0;
    this.visible = true;
    this.want = true;
    this.generation = 0;
    this.set("idle");
    state.tiles.add(this);
    this.observer = new IntersectionObserver(function (entries) {
      tile.visible = entries[entries.length - 1].isIntersecting;
      if (!tile.visible) { tile.pause(); } else if (tile.state === "paused") { tile.start(); }
    });
    this.observer.observe(this.node);
    this.timer = setInterval(function () { tile.tick(); }, TICK_MS);
  }

  Tile.prototype.set = function (name, detail) {
    this.state = name;
    this.node.setAttribute("data-state", name);
    STATES.forEach(function (s) { this.node.classList.toggle("video-" + s, s === name); }, this);
    const words = { connecting: "video.connecting", live: "video.live", offline: "video.offline",
      paused: "video.paused", waiting: "video.limit", off: "video.gateway.off" };
    this.status.textContent = detail || (words[name] ? t(words[name], { count: maxStreams() }) : "");
  };

  // A tile on the page that is trying to play, or playing, takes one of the page's places.
  Tile.prototype.holdsPlace = function () {
    return this.node.isConnected && (this.state === "connecting" || this.state === "live" || this.state === "offline");
  };

  Tile.prototype.start = function () {
    const tile = this;
    if (!this.node.isConnected && this.startedAt) { return; }
    if (document.hidden || !this.visible) { this.set("paused"); return; }
    if (!this.holdsPlace() && playing() >= maxStreams()) { this.set("waiting"); return; }
    this.generation += 1;
    const generation = this.generation;
    this.detach();
    this.set(this.state === "offline" ? "offline" : "connecting");
    this.startedAt = Date.now();
    this.retryAt = this.startedAt + RETRY_MS + STALL_MS;
    this.node.setAttribute("data-started", String(this.startedAt));
    const camera = urls().videoCamera.replace("<device_id>", encodeURIComponent(this.deviceId));
    csrfFetch(camera, { method: "GET" }).then(function (reply) {
      return reply.json().then(function (body) { return { ok: reply.ok, status: reply.status, body: body }; });
    }).then(function (answer) {
      if (generation !== tile.generation) { return; }
      if (!answer.ok) {
        tile.set("refused", (answer.body.error && answer.body.error.reason) || answer.body.error || t("video.none"));
        return;
      }
      if (answer.body.gateway === "off") { tile.set("off"); return; }
      if (answer.body.gateway === "down") { tile.set("offline", t("video.gateway.down")); return; }
      tile.mountpoint = answer.body.mountpoint;
      return session().then(function (janus) { tile.attach(janus, generation); });
    }).catch(function () {
      if (generation === tile.generation) { tile.set("offline"); }
    });
  };

  Tile.prototype.attach = function (janus, generation) {
    const tile = this;
    janus.attach({
      plugin: "janus.plugin.streaming",
      success: function (handle) {
        if (generation !== tile.generation) { handle.detach(); return; }
        tile.handle = handle;
        handle.send({ message: { request: "watch", id: tile.mountpoint } });
      },
      error: function () { if (generation === tile.generation) { tile.set("offline"); } },
      onmessage: function (message, jsep) {
        if (generation !== tile.generation || !tile.handle) { return; }
        if (message.error) { tile.set("offline"); return; }
        if (jsep) {
          tile.handle.createAnswer({
            jsep: jsep, tracks: [{ type: "data" }],
            success: function (answer) { tile.handle.send({ message: { request: "start" }, jsep: answer }); },
            error: function () { tile.set("offline"); },
          });
        }
      },
      onremotetrack: function (track, _mid, on) {
        if (generation !== tile.generation || !on || track.kind !== "video") { return; }
        const current = tile.video.srcObject && tile.video.srcObject.getVideoTracks()[0];
        if (current && current.id === track.id) { return; }  // janus.js reports a track twice
        tile.video.srcObject = new MediaStream([track]);
        tile.video.play().catch(function () { /* muted autoplay: a refusal here is retried by the tick */ });
        tile.watchFrames(generation);
      },
    });
  };

  // "Live" means frames are being presented, not that a connection exists.
  Tile.prototype.watchFrames = function (generation) {
    const tile = this;
    if (!this.video.requestVideoFrameCallback) { return; }
    const onFrame = function (now, metadata) {
      if (generation !== tile.generation) { return; }
      const first = tile.lastFrame < tile.startedAt;
      tile.lastFrame = Date.now();
      if (first && state.latency) { state.latency.first.push({ device: tile.deviceId, ms: tile.lastFrame - tile.startedAt }); }
      if (tile.state !== "live") { tile.set("live"); }
      recordFrame(tile, tile.lastFrame, metadata);
      tile.video.requestVideoFrameCallback(onFrame);
    };
    this.video.requestVideoFrameCallback(onFrame);
  };

  Tile.prototype.tick = function () {
    if (!this.node.isConnected) {  // a card scrolled out of the queue, a panel showing another incident
      if (!this.options.keep || !this.options.keep()) { this.destroy(); } else if (this.handle) { this.pause(); }
      return;
    }
    const now = Date.now();
    if (this.state === "live" && now - this.lastFrame > STALL_MS) {
      this.set("offline");
      this.retryAt = now + RETRY_MS;
    } else if ((this.state === "offline" || this.state === "connecting") && now >= this.retryAt) {
      this.set("offline");
      this.start();  // a stalled stream is watched again (the server restarts a simulated feed on a watch)
    } else if (this.state === "waiting" && playing() < maxStreams()) {
      this.start();
    }
  };

  Tile.prototype.detach = function () {
    if (this.handle) {
      const handle = this.handle;
      this.handle = null;
      try { handle.detach(); } catch (_error) { /* the session is gone already */ }
    }
    this.video.srcObject = null;
  };

  Tile.prototype.pause = function () {
    if (this.state === "refused" || this.state === "off") { return; }
    this.generation += 1;
    this.detach();
    this.set("paused");
  };

  Tile.prototype.destroy = function () {
    this.generation += 1;
    this.detach();
    clearInterval(this.timer);
    this.observer.disconnect();
    state.tiles.delete(this);
    if (this.node.parentNode) { this.node.parentNode.removeChild(this.node); }
  };

  function play(deviceId, options) {
    const made = new Tile(deviceId, options);
    made.start();
    return made;
  }

  // The alert card's media block: the snapshot beside the live view, kept across the card's redraws.
  function alertMedia(a) {
    if (!state.texts || !state.texts.canWatch) { return null; }
    let block = state.alertMedia.get(a.event_id);
    if (block) { return block.node; }
    const node = el("div", "alert-media");
    let live = null;
    if (a.snapshot) {
      const img = document.createElement("img");
      img.className = "alert-snapshot";
      img.alt = t("alert.snapshot");
      img.src = a.snapshot;
      node.appendChild(img);
    }
    if (a.has_video && state.texts.videoOn) {
      live = play(a.device_id, { keep: function () { return state.alertMedia.has(a.event_id); } });
      node.appendChild(live.node);
    }
    if (!node.childNodes.length) { return null; }
    block = { node: node, tile: live };
    state.alertMedia.set(a.event_id, block);
    return node;
  }

  function dropAlert(eventId) {
    const block = state.alertMedia.get(eventId);
    if (!block) { return; }
    state.alertMedia.delete(eventId);
    if (block.tile) { block.tile.destroy(); }
  }

  function near(lon, lat) {
    const url = urls().videoNear + "?lon=" + encodeURIComponent(lon) + "&lat=" + encodeURIComponent(lat);
    return csrfFetch(url, { method: "GET" }).then(function (reply) { return reply.ok ? reply.json() : { cameras: [] }; });
  }

  // The dispatch panel: when it shows another incident, list the cameras near it; a click plays one.
  function renderPanel() {
    const box = document.querySelector(".panel-cameras");
    const incident = box ? box.getAttribute("data-incident") : null;
    if (!box || incident === state.panelIncident && box.childNodes.length) { return; }
    state.panelIncident = incident;
    const radius = box.getAttribute("data-radius");
    box.replaceChildren(el("h4", null, t("video.near.title", { radius: radius })));
    near(box.getAttribute("data-lon"), box.getAttribute("data-lat")).then(function (answer) {
      if (state.panelIncident !== incident) { return; }
      if (!answer.cameras.length) { box.appendChild(el("p", "empty-hint", t("video.near.none", { radius: radius }))); return; }
      const list = el("ol", "camera-list");
      const stage = el("div", "camera-stage");
      answer.cameras.forEach(function (camera) {
        const item = el("li", "camera-item");
        item.setAttribute("data-device-id", camera.device_id);
        const button = el("button", "btn small camera-watch", camera.device_id + " · " +
          t("video.near.distance", { distance: camera.distance_m }));
        button.addEventListener("click", function () {
          if (stage.querySelector('[data-device-id="' + CSS.escape(camera.device_id) + '"]')) { return; }
          stage.appendChild(play(camera.device_id, { closable: true, caption: t("video.near.distance", { distance: camera.distance_m }) }).node);
        });
        item.appendChild(button);
        list.appendChild(item);
      });
      box.append(list, stage);
    });
  }

  // The wall: the tile following the newest urgent event (its own camera for a camera alert, else the nearest).
  function follow(newest) {
    const box = document.getElementById(state.texts.screenVideoId);
    if (!box || !state.texts.canWatch || !state.texts.videoOn) { return; }
    if (!state.wallSet) {
      state.wallSet = true;
      (state.texts.wallCameras || []).forEach(function (deviceId) { box.appendChild(play(deviceId).node); });
    }
    const key = newest ? newest.d.event_id : "";
    if (state.following && state.following.key === key) { return; }
    const previous = state.following;
    state.following = { key: key, tile: null };
    if (previous && previous.tile) { previous.tile.destroy(); }
    if (!newest) { return; }
    const place = function (deviceId, caption) {
      if (state.following.key !== key) { return; }
      const made = play(deviceId, { caption: caption });
      made.node.classList.add("video-following");
      state.following.tile = made;
      box.insertBefore(made.node, box.firstChild);
    };
    if (newest.kind === "alert" && newest.d.has_video) {
      place(newest.d.device_id, t("video.wall.following"));
    } else if (newest.d.lon !== undefined && newest.d.lon !== null) {
      near(newest.d.lon, newest.d.lat).then(function (answer) {
        if (answer.cameras.length) { place(answer.cameras[0].device_id, t("video.wall.following")); }
      });
    }
  }

  document.addEventListener("visibilitychange", function () {
    state.tiles.forEach(function (one) {
      if (document.hidden) { one.pause(); } else if (one.state === "paused" && one.visible) { one.start(); }
    });
  });

  window.pingan = Object.assign({}, window.pingan, {
    video: {
      state: state,
      setTexts: function (texts) { state.texts = texts; },
      play: play,
      alertMedia: alertMedia,
      dropAlert: dropAlert,
      render: function (texts) { state.texts = texts; renderPanel(); },
      follow: follow,
      readStamp: readStamp,
      // Tests and benchmarks: every presented frame's delay and each tile's first frame, in ms.
      recordLatency: function () { state.latency = { samples: [], first: [], unread: 0 }; return true; },
    },
  });
})();
