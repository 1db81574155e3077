// Nodes and labels: the launchers' nodes of the tenant (what each is, where,
// in which state and since when, what it runs, why it is held) and the
// labels the tenant may ask for, each with how many of its nodes are in
// each state.  Both are live (polled, live.js) and filterable.

import { getJSON } from "../api.js";
import { formatDuration, formatTime, h, link, message, parseTime, table } from "../dom.js";
import { liveView, matchesTerm } from "../live.js";

// Node state -> badge colour (Zuul's state words).
const STATE_CLASSES = {
  ready: "ok",
  "in-use": "running",
  building: "running",
  hold: "warn",
  failed: "bad",
  used: "muted",
  deleting: "muted",
};

export function nodeStateClass(state) {
  return STATE_CLASSES[state] || "muted";
}

// Seconds since the node entered its state (`state_time`, epoch seconds).
export function nodeAge(node, now = Date.now()) {
  const since = parseTime(node.state_time);
  return since ? Math.max(0, (now - since.getTime()) / 1000) : null;
}

// "4 nodes: 2 in-use, 1 hold, 1 ready" (states in the order of STATE_CLASSES).
export function nodeSummary(nodes) {
  const counts = new Map();
  for (const n of nodes) counts.set(n.state, (counts.get(n.state) || 0) + 1);
  const order = Object.keys(STATE_CLASSES);
  const states = [...counts.keys()].sort((a, b) => {
    const ia = order.indexOf(a) < 0 ? order.length : order.indexOf(a);
    const ib = order.indexOf(b) < 0 ? order.length : order.indexOf(b);
    return ia - ib || String(a).localeCompare(String(b));
  });
  const total = `${nodes.length} node${nodes.length === 1 ? "" : "s"}`;
  return states.length ? `${total}: ${states.map((s) => `${counts.get(s)} ${s}`).join(", ")}` : total;
}

// Each label the tenant may use or that a node of the tenant has, with its
// nodes counted by state: [{name, served, total, ready, inUse, hold, other}].
// `served`: a running launcher offers it (it is in /labels).
export function labelCounts(labels, nodes) {
  const rows = new Map();
  const row = (name) => {
    if (!rows.has(name)) rows.set(name, { name, served: false, total: 0, ready: 0, inUse: 0, hold: 0, other: 0 });
    return rows.get(name);
  };
  for (const l of labels) row(l.name).served = true;
  for (const n of nodes) {
    const r = row(n.label);
    r.total += 1;
    if (n.state === "ready") r.ready += 1;
    else if (n.state === "in-use") r.inUse += 1;
    else if (n.state === "hold") r.hold += 1;
    else r.other += 1;
  }
  return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function holdCell(node, now) {
  if (node.state !== "hold" && !node.comment) return "";
  const until = parseTime(node.hold_until);
  return h(
    "div",
    { class: "hold" },
    node.comment ? h("span", { class: "hold-reason" }, node.comment) : null,
    // Zuul's hold_job: "tenant project job ref-filter" of the autohold.
    node.hold_job ? h("div", { class: "muted" }, `for ${node.hold_job}`) : null,
    node.state === "hold"
      ? h(
          "div",
          { class: "muted" },
          until
            ? `until ${formatTime(node.hold_until)} (${formatDuration((until - now) / 1000)} left)`
            : "until its autohold is deleted",
        )
      : null,
  );
}

function nodeRow(ctx, node, now) {
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  const age = nodeAge(node, now);
  return h(
    "tr",
    { dataset: { node: node.id, state: node.state } },
    h("td", {}, h("code", {}, node.id)),
    h("td", {}, link(`${base}/labels?filter=${encodeURIComponent(node.label)}`, node.label)),
    h("td", {}, node.provider || ""),
    h("td", {}, node.connection_type || ""),
    h("td", {}, h("span", { class: `badge ${nodeStateClass(node.state)}` }, node.state)),
    h(
      "td",
      {},
      node.job_name ? link(`${base}/job/${encodeURIComponent(node.job_name)}`, node.job_name) : "",
    ),
    h("td", {}, holdCell(node, now)),
    h(
      "td",
      { class: "num", title: node.state_time ? `${node.state} since ${formatTime(node.state_time)}` : null },
      age === null ? "" : formatDuration(age),
    ),
  );
}

export async function renderNodes(ctx) {
  ctx.title("Nodes");
  const api = ctx.api.base;
  liveView(ctx, {
    heading: "Nodes",
    placeholder: "filter: id, label, provider, state, job or hold reason",
    load: (signal) => getJSON(`${api}/nodes`, signal),
    draw(nodes, { term, body, summary }) {
      const now = Date.now();
      const shown = nodes
        .filter((n) =>
          matchesTerm(term, [n.id, n.label, n.provider, n.state, n.job_name, n.hold_job, n.comment]),
        )
        .sort((a, b) => String(a.id).localeCompare(String(b.id)));
      summary.textContent = nodeSummary(nodes);
      body.replaceChildren(
        shown.length
          ? table(
              ["ID", "Label", "Provider", "Connection", "State", "Job", "Hold", "Age"],
              shown.map((n) => nodeRow(ctx, n, now)),
              { class: "list", id: "results-table" },
            )
          : message("info", nodes.length ? "No node matches." : "The tenant has no nodes now."),
      );
    },
  });
}

export async function renderLabels(ctx) {
  ctx.title("Labels");
  const api = ctx.api.base;
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  liveView(ctx, {
    heading: "Labels",
    placeholder: "filter labels",
    load: async (signal) => {
      const [labels, nodes] = await Promise.all([
        getJSON(`${api}/labels`, signal),
        getJSON(`${api}/nodes`, signal),
      ]);
      return labelCounts(labels, nodes);
    },
    draw(rows, { term, body, summary }) {
      const served = rows.filter((r) => r.served).length;
      summary.textContent = `${served} label${served === 1 ? "" : "s"} served by the launchers`;
      const shown = rows.filter((r) => matchesTerm(term, [r.name]));
      // The label's nodes: the nodes page filtered by the label.
      const total = (r) =>
        h("td", { class: "num" }, r.total ? link(`${base}/nodes?filter=${encodeURIComponent(r.name)}`, String(r.total)) : "0");
      body.replaceChildren(
        shown.length
          ? table(
              ["Label", "Ready", "In use", "Held", "Other", "Nodes"],
              shown.map((r) =>
                h(
                  "tr",
                  { dataset: { label: r.name } },
                  h(
                    "td",
                    {},
                    h("strong", {}, r.name),
                    r.served ? null : h("span", { class: "muted" }, " (no running launcher offers it)"),
                  ),
                  h("td", { class: "num" }, String(r.ready)),
                  h("td", { class: "num" }, String(r.inUse)),
                  h("td", { class: "num" }, String(r.hold)),
                  h("td", { class: "num" }, String(r.other)),
                  total(r),
                ),
              ),
              { class: "list", id: "results-table" },
            )
          : message("info", rows.length ? "No label matches." : "No launcher offers a label to this tenant."),
      );
    },
  });
}
