// The tenant's event state as a banner: while an admin has paused or
// discarded the tenant's events (zuul-client manage-events, POST
// /api/tenant/{t}/state), every tenant page says so, with the reason.
//
// Where the state comes from: the status answer's "state" object (present
// only while the state is not normal; the status page hands each poll's to
// app.js) and the tenant info's "info.state" (always there; app.js reads it
// for the other pages).  No state, or every flag false: no banner.

import { formatTime, h } from "./dom.js";

// The banner's words, or null when events are processed normally.  Says
// what it is told even when the combination is one the clients do not
// make (discarding and pausing at once).
export function eventStateText(state) {
  if (!state) return null;
  const parts = [];
  if (state.trigger_queue_discarding && !state.trigger_queue_paused && !state.result_queue_paused) {
    parts.push("Trigger events are discarded");
  }
  const paused = [];
  if (state.trigger_queue_paused || state.result_queue_paused) paused.push("trigger");
  if (state.result_queue_paused) paused.push("result");
  if (paused.length) {
    const words = `${paused.join(" and ")} events are paused`;
    parts.push(words[0].toUpperCase() + words.slice(1));
  }
  if (!parts.length) return null;
  return `${parts.join("; ")}: ${state.reason || "no reason given"}`;
}

export function eventStateBanner(state) {
  const text = eventStateText(state);
  if (!text) return null;
  const discarding = state.trigger_queue_discarding && !state.trigger_queue_paused && !state.result_queue_paused;
  return h(
    "div",
    {
      class: `message warn event-state`,
      id: "event-state",
      role: "status",
      dataset: { state: discarding ? "discarding" : state.result_queue_paused ? "results-paused" : "paused" },
    },
    h("strong", {}, text),
    state.last_modified ? h("span", { class: "muted" }, ` (since ${formatTime(state.last_modified)})`) : null,
    h(
      "div",
      { class: "muted" },
      discarding
        ? "New events from the review systems are dropped: nothing new is enqueued by them."
        : state.result_queue_paused
          ? "Nothing moves: events wait in their queues until an admin resumes processing."
          : "New events from the review systems wait in the queue until an admin resumes processing.",
    ),
  );
}
