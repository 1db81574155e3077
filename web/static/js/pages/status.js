// Status: every pipeline, its change queues and items, each job with a
// progress bar from its estimated time and its result colour; in a
// dependent queue, a tree in the left gutter shows which item each is
// tested on top of.  Updated live (the status is polled every
// POLL_INTERVAL ms, and not at all while the tab is hidden); filtered by
// project or change; /status/change/<id> shows one change wherever it is.
// An admin of the tenant (admin.js) gets a menu on each item: dequeue, and
// promote in a dependent pipeline.  Each answer's event state ("state")
// goes to the banner above the page (ctx.eventState).

import { adminRights, itemMenu } from "../admin.js";
import { poll } from "../api.js";
import {
  ago,
  clear,
  extLink,
  formatDuration,
  h,
  link,
  message,
  resultBadge,
  shortSha,
} from "../dom.js";

const POLL_INTERVAL = 2000;

export async function render(ctx) {
  ctx.title("Status");
  const filterBox = h("input", {
    type: "search",
    id: "status-filter",
    placeholder: "filter: project or change (comma separated)",
    value: ctx.query.get("filter") || "",
    "aria-label": "filter by project or change",
  });
  const stamp = h("span", { class: "muted", id: "status-updated" });
  const counters = h("span", { class: "muted counters" });
  const body = h("div", { id: "pipelines" });
  ctx.show(
    h("h1", {}, "Status"),
    h("div", { class: "toolbar" }, filterBox, counters, stamp),
    body,
  );
  let last = null;
  ctx.menus = new Set(); // the item menus open (kept across redraws)
  const draw = () => {
    if (!last) return;
    const terms = filterTerms(filterBox.value);
    showStatus(ctx, body, last, (item) => matches(item, terms), terms.length > 0);
  };
  filterBox.addEventListener("input", () => {
    ctx.setQuery({ filter: filterBox.value.trim() });
    draw();
  });
  poll(
    async () => {
      last = await ctx.api.status(ctx.signal);
      ctx.admin = (await adminRights(ctx.tenant)).admin; // (kept a minute)
      ctx.eventState(last.state || null);
      counters.textContent = eventCounts(last);
      stamp.textContent = `updated ${new Date().toLocaleTimeString()}`;
      stamp.dataset.updated = String(Date.now());
      draw();
    },
    POLL_INTERVAL,
    ctx.signal,
    (e) => {
      stamp.textContent = `not updated: ${e.message}`;
    },
  );
}

export async function renderChange(ctx) {
  const change = ctx.args[0];
  ctx.title(`Change ${change}`);
  const stamp = h("span", { class: "muted", id: "status-updated" });
  const body = h("div", { id: "pipelines" });
  ctx.show(
    h("h1", {}, `Change ${change}`),
    h(
      "div",
      { class: "toolbar" },
      link(`/t/${encodeURIComponent(ctx.tenant)}/status`, "all of the status"),
      " · ",
      link(
        `/t/${encodeURIComponent(ctx.tenant)}/buildsets?change=${encodeURIComponent(
          change.split(",")[0],
        )}`,
        "its buildsets",
      ),
      stamp,
    ),
    body,
  );
  ctx.menus = new Set();
  poll(
    async () => {
      const status = await ctx.api.status(ctx.signal);
      ctx.admin = (await adminRights(ctx.tenant)).admin; // (kept a minute)
      ctx.eventState(status.state || null);
      stamp.textContent = `updated ${new Date().toLocaleTimeString()}`;
      stamp.dataset.updated = String(Date.now());
      const found = showStatus(ctx, body, status, (item) => hasChange(item, change), true);
      if (!found) {
        clear(body).append(
          message("info", `Change ${change} is in no pipeline now (see its buildsets).`),
        );
      }
    },
    POLL_INTERVAL,
    ctx.signal,
    (e) => {
      stamp.textContent = `not updated: ${e.message}`;
    },
  );
}

function eventCounts(status) {
  const n = (q) => (q && q.length) || 0;
  return (
    `events: ${n(status.trigger_event_queue)} trigger, ` +
    `${n(status.management_event_queue)} management, ${n(status.result_event_queue)} result`
  );
}

function filterTerms(text) {
  return text
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
}

export function refsOf(item) {
  if (item.refs && item.refs.length) return item.refs;
  return [{ id: item.id, project: item.project, ref: item.ref, url: item.url }];
}

function matches(item, terms) {
  if (!terms.length) return true;
  return refsOf(item).some((ref) =>
    terms.some(
      (t) =>
        String(ref.project || "").toLowerCase().includes(t) ||
        String(ref.id || "").toLowerCase() === t ||
        String(ref.id || "").split(",")[0] === t,
    ),
  );
}

function hasChange(item, change) {
  return refsOf(item).some(
    (ref) => String(ref.id) === change || String(ref.id || "").split(",")[0] === change,
  );
}

// Draw the pipelines; only items passing `keep`.  Returns how many items
// were shown.
function showStatus(ctx, body, status, keep, filtering) {
  const sections = [];
  const idle = [];
  let shown = 0;
  for (const pipeline of status.pipelines || []) {
    const queues = [];
    for (const queue of pipeline.change_queues || []) {
      for (const head of queue.heads || []) {
        const items = head.filter(keep);
        if (!items.length) continue;
        shown += items.length;
        queues.push(drawQueue(ctx, pipeline, queue, items));
      }
    }
    if (!queues.length) {
      idle.push(pipeline.name);
      continue;
    }
    sections.push(
      h(
        "section",
        { class: "pipeline", dataset: { pipeline: pipeline.name } },
        h(
          "h2",
          {},
          pipeline.name,
          pipeline.manager ? h("small", { class: "muted" }, ` ${pipeline.manager}`) : null,
        ),
        pipeline.description ? h("p", { class: "muted" }, pipeline.description) : null,
        queues,
      ),
    );
  }
  clear(body);
  if (!sections.length) {
    body.append(
      message("info", filtering ? "Nothing in the pipelines matches the filter." : "The pipelines are empty."),
    );
  }
  body.append(h("div", { class: "pipelines" }, sections));
  if (idle.length && !filtering) {
    body.append(h("p", { class: "muted idle" }, `Idle pipelines: ${idle.join(", ")}`));
  }
  return shown;
}

function drawQueue(ctx, pipeline, queue, items) {
  const dependent = pipeline.manager === "dependent" || items.length > 1;
  const layout = dependent ? treeLayout(items) : null;
  const rows = items.map((item, i) =>
    h(
      "div",
      { class: "item-row" },
      layout ? drawGutter(layout, i, items) : null,
      drawItem(ctx, pipeline, item, items, dependent),
    ),
  );
  const name = queue.name && dependent ? queue.name : null;
  return h(
    "div",
    { class: "queue", dataset: { queue: queue.name || "" } },
    name
      ? h(
          "h3",
          {},
          `queue ${name}`,
          queue.window ? h("small", { class: "muted" }, ` window ${queue.window}`) : null,
        )
      : null,
    rows,
  );
}

// Columns of the gutter tree: the chain that ends at the last item is
// column 0; an item that the items behind it are not built on (one that
// failed, say) goes to a column of its own, as in Zuul's status page.
export function treeLayout(items) {
  const index = new Map(items.map((item, i) => [item.id, i]));
  const column = new Array(items.length).fill(null);
  let next = 0;
  for (let start = items.length - 1; start >= 0; start--) {
    if (column[start] !== null) continue;
    let cur = start;
    const col = next++;
    while (cur !== undefined && cur !== null && column[cur] === null) {
      column[cur] = col;
      const ahead = items[cur].item_ahead;
      cur = ahead ? index.get(ahead) : null;
    }
  }
  const edges = [];
  items.forEach((item, i) => {
    const a = item.item_ahead ? index.get(item.item_ahead) : undefined;
    if (a !== undefined) edges.push([a, i]);
  });
  return { column, edges, width: Math.max(1, next) };
}

const COL = 16; // px per gutter column
const NODE_Y = 18; // px from the row's top to the node's centre

function drawGutter(layout, row, items) {
  const parts = [];
  const x = (c) => c * COL + COL / 2;
  for (const [a, i] of layout.edges) {
    const ca = layout.column[a];
    const ci = layout.column[i];
    if (row === a) parts.push(h("span", { class: "line v", style: { left: `${x(ca) - 1}px`, top: `${NODE_Y}px`, bottom: "0" } }));
    else if (row > a && row < i) parts.push(h("span", { class: "line v", style: { left: `${x(ca) - 1}px`, top: "0", bottom: "0" } }));
    else if (row === i) {
      parts.push(h("span", { class: "line v", style: { left: `${x(ca) - 1}px`, top: "0", height: `${NODE_Y}px` } }));
      if (ca !== ci) {
        const left = Math.min(x(ca), x(ci));
        parts.push(h("span", { class: "line h", style: { left: `${left}px`, top: `${NODE_Y - 1}px`, width: `${Math.abs(x(ca) - x(ci))}px` } }));
      }
    }
  }
  const item = items[row];
  parts.push(
    h("span", {
      class: `node ${itemState(item)}`,
      style: { left: `${x(layout.column[row]) - 6}px`, top: `${NODE_Y - 6}px` },
      title: item.item_ahead ? "tested on top of the item its line leads to" : "tested on its branch as it is",
    }),
  );
  return h("div", { class: "tree", style: { width: `${layout.width * COL}px` }, "aria-hidden": "true" }, parts);
}

function itemState(item) {
  if (item.live === false) return "muted";
  if ((item.failing_reasons || []).length) return "bad";
  const jobs = item.jobs || [];
  if (jobs.length && jobs.every((j) => j.result)) {
    return jobs.every((j) => !j.voting || ["SUCCESS", "SKIPPED"].includes(j.result)) ? "ok" : "bad";
  }
  return "running";
}

function refLabel(ref) {
  const id = ref.id || "";
  if (ref.ref && ref.ref.startsWith("refs/") && (!id || id === ref.newrev)) {
    return `${ref.ref.replace(/^refs\/(heads|tags)\//, "")} ${shortSha(ref.newrev)}`.trim();
  }
  return String(id).length === 40 ? shortSha(id) : id;
}

function drawItem(ctx, pipeline, item, queueItems, dependent) {
  const tenantBase = `/t/${encodeURIComponent(ctx.tenant)}`;
  const refs = refsOf(item);
  const state = itemState(item);
  const jobs = item.jobs || [];
  const done = jobs.filter((j) => j.result).length;
  const ahead = item.item_ahead ? queueItems.find((i) => i.id === item.item_ahead) : null;
  const changeId = refs[0] && refs[0].id ? String(refs[0].id) : null;
  const header = h(
    "div",
    { class: "item-head" },
    refs.map((ref) =>
      h(
        "span",
        { class: "ref" },
        extLink(ref.url, refLabel(ref)),
        " ",
        h("span", { class: "project" }, ref.project || ""),
        ref.branch ? h("span", { class: "muted" }, ` ${ref.branch}`) : null,
      ),
    ),
    h(
      "span",
      { class: "item-meta muted" },
      item.enqueue_time ? `queued ${ago(item.enqueue_time)}` : "",
      item.remaining_time ? ` · ~${formatDuration(item.remaining_time / 1000)} left` : "",
      changeId && refs[0].url
        ? [" · ", link(`${tenantBase}/status/change/${encodeURIComponent(changeId)}`, "this change")]
        : null,
      ctx.admin ? itemMenu(ctx, pipeline, item, ctx.menus) : null,
    ),
  );
  const aheadNote =
    dependent && ahead
      ? h("div", { class: "ahead muted" }, "tested on top of ", refLabel(refsOf(ahead)[0]), ` (${refsOf(ahead)[0].project || ""})`)
      : dependent && !item.item_ahead && queueItems.indexOf(item) > 0
        ? h("div", { class: "ahead muted" }, "tested without the items ahead")
        : null;
  const failing = (item.failing_reasons || []).length
    ? h("div", { class: "failing" }, "failing: ", item.failing_reasons.join(", "))
    : null;
  const progress = jobs.length
    ? h(
        "div",
        { class: "bar item-bar", title: `${done} of ${jobs.length} jobs done` },
        h("span", { class: `fill ${state}`, style: { width: `${Math.round((done / jobs.length) * 100)}%` } }),
      )
    : null;
  return h(
    "div",
    {
      class: `item card${item.live === false ? " not-live" : ""}`,
      dataset: { item: item.id, change: changeId || "", state },
    },
    header,
    aheadNote,
    failing,
    progress,
    item.live === false
      ? h("div", { class: "muted" }, "not tested itself: the items behind depend on it")
      : h("ul", { class: "jobs" }, jobs.map((job) => drawJob(ctx, job))),
  );
}

export function jobProgress(job) {
  if (!job.start_time || job.result) return null;
  const elapsed = job.elapsed_time || 0; // ms
  const estimated = job.estimated_time ? job.estimated_time * 1000 : null; // s -> ms
  if (!estimated) return { percent: null, elapsed, remaining: null };
  return {
    percent: Math.min(99, Math.round((elapsed / estimated) * 100)),
    elapsed,
    remaining: Math.max(0, estimated - elapsed),
  };
}

function drawJob(ctx, job) {
  const tenantBase = `/t/${encodeURIComponent(ctx.tenant)}`;
  let target = null;
  if (job.uuid && job.result) target = `${tenantBase}/build/${encodeURIComponent(job.uuid)}`;
  else if (job.uuid && job.start_time) {
    // Zuul's relative "stream/<uuid>?logfile=console.log", under the tenant.
    target = job.url && !/^[a-z]+:/i.test(job.url) && !job.url.startsWith("/")
      ? `${tenantBase}/${job.url}`
      : `${tenantBase}/stream/${encodeURIComponent(job.uuid)}?logfile=console.log`;
  }
  const name = target ? link(target, job.name) : h("span", {}, job.name);
  let state;
  const progress = jobProgress(job);
  if (job.result) {
    state = resultBadge(job.result);
  } else if (job.paused) {
    state = h("span", { class: "badge warn" }, "paused");
  } else if (progress) {
    const label =
      progress.percent === null
        ? formatDuration(progress.elapsed / 1000)
        : `${progress.percent}%${progress.remaining !== null ? ` · ${formatDuration(progress.remaining / 1000)} left` : ""}`;
    state = h(
      "span",
      {
        class: `bar job-bar${progress.percent === null ? " unknown" : ""}`,
        role: "progressbar",
        "aria-valuenow": progress.percent ?? undefined,
        "aria-valuemin": 0,
        "aria-valuemax": 100,
        title: progress.percent === null ? "running (no estimate yet)" : label,
      },
      h("span", { class: "fill running", style: { width: `${progress.percent ?? 100}%` } }),
      h("span", { class: "bar-label" }, label),
    );
  } else {
    state = h("span", { class: "badge muted", title: job.waiting_status || "" }, job.waiting_status ? "waiting" : "queued");
  }
  return h(
    "li",
    { class: "job", dataset: { job: job.name, state: job.result || (job.start_time ? "running" : "waiting") } },
    h("span", { class: "job-name" }, name, job.voting === false ? h("small", { class: "muted" }, " (non-voting)") : null),
    job.tries > 1 ? h("small", { class: "muted" }, ` attempt ${job.tries}`) : null,
    state,
  );
}
