// A live page for the operators' views (nodes, labels, semaphores,
// autoholds): a heading, a toolbar (a filter box kept in the query string as
// `filter`, a summary, and when the data was last fetched), and a body that
// is drawn again from each poll's answer and at each keystroke in the
// filter -- the way the status page polls (api.js poll: every `interval`
// ms, not at all while the tab is hidden, stopped when the user leaves).
//
// Who calls it: pages/nodes.js, pages/semaphores.js, pages/autoholds.js.

import { poll } from "./api.js";
import { h, message } from "./dom.js";

export const POLL_INTERVAL = 3000;

// load(signal) -> data (a promise); draw(data, {term, body, summary}) fills
// `body` (and `summary`, a text node's parent) from the data and the
// filter's lower-cased term.  `placeholder` null: no filter box.
export function liveView(ctx, { heading, placeholder = null, interval = POLL_INTERVAL, load, draw }) {
  const filter = placeholder
    ? h("input", {
        type: "search",
        id: "live-filter",
        placeholder,
        value: ctx.query.get("filter") || "",
        "aria-label": placeholder,
      })
    : null;
  const summary = h("span", { class: "muted", id: "live-summary" });
  const stamp = h("span", { class: "muted", id: "page-updated" });
  const body = h("div", { id: "results" }, h("p", { class: "muted" }, "loading…"));
  ctx.show(h("h1", {}, heading), h("div", { class: "toolbar" }, filter, summary, stamp), body);
  let data;
  let loaded = false;
  const redraw = () => {
    if (!loaded) return;
    const term = filter ? filter.value.trim().toLowerCase() : "";
    draw(data, { term, body, summary });
  };
  if (filter) {
    filter.addEventListener("input", () => {
      ctx.setQuery({ filter: filter.value.trim() });
      redraw();
    });
  }
  poll(
    async () => {
      data = await load(ctx.signal);
      loaded = true;
      stamp.textContent = `updated ${new Date().toLocaleTimeString()}`;
      stamp.dataset.updated = String(Date.now());
      redraw();
    },
    interval,
    ctx.signal,
    (e) => {
      stamp.textContent = `not updated: ${e.message}`;
      if (!loaded) body.replaceChildren(message("error", e.message));
    },
  );
}

// Does any of `values` contain `term` (lower-cased already)?  An empty
// term matches everything.
export function matchesTerm(term, values) {
  if (!term) return true;
  return values.some((v) => v !== null && v !== undefined && String(v).toLowerCase().includes(term));
}

// A usage bar ("2 / 3"), in the status page's progress bar style.
export function usageBar(used, max, attrs = {}) {
  const percent = max > 0 ? Math.min(100, Math.round((100 * used) / max)) : 0;
  const full = max > 0 && used >= max;
  return h(
    "span",
    {
      class: "bar usage-bar",
      role: "meter",
      "aria-valuenow": used,
      "aria-valuemin": 0,
      "aria-valuemax": max,
      title: `${used} of ${max} in use`,
      ...attrs,
    },
    h("span", { class: `fill${full ? " full" : ""}`, style: { width: `${percent}%` } }),
    h("span", { class: "bar-label" }, `${used} / ${max}`),
  );
}
