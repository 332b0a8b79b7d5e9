"""What a live page holds, read in headless Chromium: the fault suite and the failover benchmark compare it
with the server's record."""

from __future__ import annotations

from typing import Any

LIVE_READY = "() => window.pingan && window.pingan.live && window.pingan.live.state.seq > 0"

# Wraps the page's own entry points (looked up by Dash at call time) to count, per incident, how
# often it arrived in an applied batch, and how often the socket (re)connected. The page's code
# is not changed: it dedups by event_id, so this is how a duplicate delivery would show.
INSTRUMENT = """() => {
  const live = window.pingan.live, st = live.state, update = live.update, onSocket = live.onSocket;
  const f = window.__faults = {delivered: {}, batches: 0, connects: 0};
  live.onSocket = function (socketId, connected) {
    if (connected && socketId && socketId !== st.sid) { f.connects++; }
    return onSocket.apply(this, arguments);
  };
  live.update = function (batch) {
    const before = st.seq;
    const out = update.apply(this, arguments);
    if (batch && st.seq === batch.seq && st.seq !== before) {
      f.batches++;
      batch.events.forEach(function (ev) {
        if (ev.type === "incident") { f.delivered[ev.data.event_id] = (f.delivered[ev.data.event_id] || 0) + 1; }
      });
    }
    return out;
  };
  live.recordDraws();
  return true;
}"""

PAGE_STATE = """() => {
  const st = window.pingan.live.state;
  const markers = st.layers ? st.layers.incidents.getLayers().filter(l => l.options.interactive !== false) : [];
  const owner = new Map([...st.incidents].map(([k, v]) => [v.marker, k]));
  const rows = [...document.querySelectorAll('#' + st.texts.feedId + ' [data-event-id]')]
    .map(li => li.getAttribute('data-event-id'));
  return {
    incidents: [...st.incidents.keys()],
    statuses: Object.fromEntries([...st.incidents].map(([k, v]) => [k, v.data.status])),
    markers: markers.length,
    markerIds: new Set(markers.map(m => owner.get(m))).size,
    feedRows: rows.length, feedDistinct: new Set(rows).size,
    units: Object.fromEntries([...st.units].map(([k, v]) => [k, v.data])),
    drawn: Object.fromEntries(st.drawn),
    delivered: window.__faults.delivered, connects: window.__faults.connects, batches: window.__faults.batches,
  };
}"""


MARKER_LIMIT = 500  # the page keeps the newest 500 incidents (assets/pingan_live.js)
FEED_LIMIT = 100


def page_problems(state: dict[str, Any], published_order: list[str]) -> list[str]:
    """What differs between one page and the server: empty when the screen is right."""
    shown = published_order[-MARKER_LIMIT:]
    problems = []
    if state["incidents"] != shown:
        problems.append(f"shows {len(state['incidents'])} incidents, the server's newest {len(shown)} differ")
    if not state["markers"] == state["markerIds"] == len(shown):
        problems.append(f"{state['markers']} markers for {state['markerIds']} incidents, want {len(shown)}")
    twice = sorted(k for k, c in state["delivered"].items() if c > 1)
    if sorted(state["delivered"]) != sorted(published_order) or twice:
        problems.append(f"delivered {len(state['delivered'])} of {len(published_order)}, twice: {twice[:5]}")
    if not state["feedRows"] == state["feedDistinct"] == min(len(shown), FEED_LIMIT):
        problems.append(f"feed has {state['feedRows']} rows, {state['feedDistinct']} distinct")
    return problems


# Latency on the page: when each incident's batch reached the page (Date.now(), epoch ms, the producer's clock
# on this machine) beside its sent_at, and how often it was applied. The page's code is not changed.
ARRIVALS = """() => {
  const live = window.pingan.live, st = live.state, update = live.update;
  const a = window.__arrivals = {at: {}, sentAt: {}, applied: {}, batches: []};
  live.update = function (batch) {
    const received = Date.now(), before = st.seq;
    const out = update.apply(this, arguments);
    if (batch && st.seq === batch.seq && st.seq !== before) {
      // [received, ms to apply, events]: where a page's time goes (applying vs waiting for the next batch)
      a.batches.push([received, Date.now() - received, batch.events.length]);
      batch.events.forEach(function (ev) {
        if (ev.type !== "incident") { return; }
        const id = ev.data.event_id;
        a.applied[id] = (a.applied[id] || 0) + 1;
        if (!(id in a.at)) { a.at[id] = received; a.sentAt[id] = Number(ev.data.sent_at); }
      });
    }
    return out;
  };
  return true;
}"""

# For the incidents whose event_id starts with the argument: latencies (ms), how many were applied twice, and
# the batches from the first of them on ([received, ms to apply, events] each).
ARRIVALS_READ = """(prefix) => {
  const a = window.__arrivals, ids = Object.keys(a.at).filter(id => id.startsWith(prefix));
  const first = Math.min(...ids.map(id => a.at[id]));
  return {latencies: ids.map(id => a.at[id] - a.sentAt[id]),
          doubled: ids.filter(id => a.applied[id] > 1).length,
          batches: a.batches.filter(b => b[0] >= first)};
}"""
