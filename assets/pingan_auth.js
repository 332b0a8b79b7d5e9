/* Signing out, the idle lock and "session over" handling for the command page.
 *
 * The server is the authority (it ends idle sessions and refuses requests); this
 * script only makes the page follow promptly: it reports the person's activity
 * (at most once a minute), hides the page and signs out after the idle time,
 * and goes to the sign-in page when the server says the session is over.
 */
(function () {
  "use strict";
  const TOUCH_EVERY_MS = 60 * 1000;
  let lastInput = Date.now();
  let lastTouch = Date.now();
  let leaving = false;
  let signingOut = "";  // why this page is signing out, once it has asked to

  // Where to go: the server's URLs (urls.py), carried by the page's auth-config element.
  function url(name) {
    return document.getElementById("auth-config").getAttribute("data-" + name + "-url");
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)_csrf_token=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function post(target, body) {
    return fetch(target, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    });
  }

  function leave(why) {
    if (leaving) { return; }
    leaving = true;
    // A request refused while our own sign-out is under way answers 401 before the
    // sign-out's reply does: the person should still read why they left.
    why = signingOut || why;
    document.body.classList.add("session-over");  // hides the picture at once (pingan.css)
    window.location.assign(url("login") + (why ? "?why=" + encodeURIComponent(why) : ""));
  }

  function logout(why) {
    signingOut = why || "logout";
    post(url("logout")).finally(function () { leave(signingOut); });
  }

  /* A response from the server: 401 means the session is over (idle, expired, signed out). */
  function check(response) {
    if (response && response.status === 401) {
      response.clone().json().then(function (body) { leave(body && body.why); }, function () { leave(""); });
    }
    return response;
  }

  function onInput() {
    lastInput = Date.now();
    if (lastInput - lastTouch > TOUCH_EVERY_MS) {
      lastTouch = lastInput;
      post(url("touch")).then(check, function () { /* offline: the next input tries again */ });
    }
  }

  function idleLimitMs() {
    const node = document.getElementById("auth-config");
    const minutes = node ? Number(node.getAttribute("data-idle-minutes")) : 30;
    return minutes > 0 ? minutes * 60 * 1000 : Infinity;  // 0: a big screen's kiosk session, never idle
  }

  ["pointerdown", "pointermove", "keydown", "wheel", "touchstart"].forEach(function (name) {
    window.addEventListener(name, onInput, { passive: true, capture: true });
  });
  window.setInterval(function () {
    if (Date.now() - lastInput > idleLimitMs()) { logout("idle"); }
  }, 5000);

  window.pingan = Object.assign({}, window.pingan, {
    auth: { csrfToken: csrfToken, post: post, check: check, logout: logout, leave: leave },
  });
})();
