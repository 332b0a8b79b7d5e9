/* The page's clock is the server's: the product has one clock (clock.py), and a desk's own may
 * be minutes off, or the product may run a time-lapse (SIM_SPEED). The page is given the
 * server's time and pace when it loads and with every pushed batch, and runs from the latest.
 *
 * Everything shown in world time goes through here: countdowns, "N minutes ago", "today", the
 * header clock. Machine durations (how long since the last event arrived) stay on Date.now(). */
(function () {
  const JITTER_MS = 1000;  // a new sample closer than this to the running estimate changes nothing
  // Beijing time is UTC+8 all year (no daylight saving since 1991): plain arithmetic, no Intl formatter on
  // the hot path (every feed row and ticker line formats a time).
  const BEIJING_MS = 8 * 3600 * 1000;
  const state = { serverMs: null, localMs: 0, speed: 1 };

  function now() {
    if (state.serverMs === null) { return Date.now(); }
    return state.serverMs + (performance.now() - state.localMs) * state.speed;
  }

  // The server's time and pace: from the page's settings, then every batch.
  function sync(sample) {
    if (!sample || typeof sample.now_ms !== "number") { return; }
    const speed = sample.speed || 1;
    if (state.serverMs !== null && speed === state.speed && Math.abs(sample.now_ms - now()) < JITTER_MS) { return; }
    state.serverMs = sample.now_ms;
    state.localMs = performance.now();
    state.speed = speed;
  }

  function ms(value) { return typeof value === "number" ? value : Date.parse(value); }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  // A moment's Beijing wall clock (read through the UTC getters of a shifted Date).
  function beijing(value) { return new Date(ms(value) + BEIJING_MS); }

  // "YYYY-MM-DD" of a moment in Beijing.
  function dayOf(value) {
    const d = beijing(value);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
  }

  function isToday(value) { return dayOf(value) === dayOf(now()); }

  // A time as people here read it: "21:20" today, "12-03 23:56" on another day, with the year if another year.
  function when(value) {
    const d = beijing(value);
    const time = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    const day = dayOf(value);
    const today = dayOf(now());
    if (day === today) { return time; }
    return (day.slice(0, 4) === today.slice(0, 4) ? day.slice(5) : day) + " " + time;
  }

  // How long ago, in the largest whole unit: [count, "minutes" | "hours" | "days"].
  function ago(value) {
    const minutes = Math.max(0, Math.floor((now() - ms(value)) / 60000));
    if (minutes < 120) { return [minutes, "minutes"]; }
    const hours = Math.floor(minutes / 60);
    return hours < 48 ? [hours, "hours"] : [Math.floor(hours / 24), "days"];
  }

  window.pingan = Object.assign({}, window.pingan, {
    clock: { now: now, sync: sync, dayOf: dayOf, isToday: isToday, when: when, ago: ago, state: state },
  });
})();
