// Semaphores: each of the tenant's semaphores with how much of it is held
// and by which jobs -- each holder named by its pipeline, job and the
// change it runs for (from the status: a holder names its queue item), with
// a link to that change's live status; one semaphore on its own page.
// Live (polled, live.js).

import { getJSON } from "../api.js";
import { facts, h, link, message, table } from "../dom.js";
import { liveView, matchesTerm, usageBar } from "../live.js";

// Queue item uuid -> {change, project, pipeline} from a status answer, for
// naming a semaphore's holders (which carry only the item's uuid).
export function itemsById(status) {
  const out = new Map();
  for (const pipeline of status?.pipelines || []) {
    for (const queue of pipeline.change_queues || []) {
      for (const head of queue.heads || []) {
        for (const item of head) {
          const ref = (item.refs || [])[0] || {};
          out.set(item.id, {
            change: ref.id || null, // null: a branch or tag, not a change
            ref: ref.ref || item.ref || null,
            project: ref.project || item.project || "",
            pipeline: pipeline.name,
          });
        }
      }
    }
  }
  return out;
}

// A holder as the page shows it: its job, pipeline and change (or null
// when the item has left the status since the semaphore was read).
export function describeHolder(holder, items) {
  const item = items.get(holder.item_uuid) || null;
  return {
    job: holder.job_name,
    pipeline: holder.pipeline,
    item: holder.item_uuid,
    change: item ? item.change : null,
    ref: item ? item.ref : null,
    project: item ? item.project : null,
  };
}

async function load(ctx, signal) {
  const api = ctx.api.base;
  const [semaphores, status] = await Promise.all([
    getJSON(`${api}/semaphores`, signal),
    // The holders' names; without it they are shown by item uuid.
    getJSON(`${api}/status`, signal).catch((e) => {
      if (e.name === "AbortError") throw e;
      return null;
    }),
  ]);
  const items = itemsById(status);
  return semaphores.map((s) => ({
    ...s,
    shown: (s.holders?.this_tenant || []).map((holder) => describeHolder(holder, items)),
  }));
}

function holderView(ctx, holder) {
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  return h(
    "li",
    { class: "holder", dataset: { job: holder.job, pipeline: holder.pipeline } },
    link(`${base}/job/${encodeURIComponent(holder.job)}`, holder.job),
    h("span", { class: "muted" }, ` in ${holder.pipeline}`),
    holder.change
      ? [
          " for ",
          link(`${base}/status/change/${encodeURIComponent(holder.change)}`, holder.change),
          holder.project ? h("span", { class: "muted" }, ` (${holder.project})`) : null,
        ]
      : holder.ref
        ? [" for ", h("code", {}, holder.ref), h("span", { class: "muted" }, ` (${holder.project})`)]
        : h("span", { class: "muted", title: holder.item }, ` (item ${String(holder.item).slice(0, 8)})`),
  );
}

function holdersList(ctx, semaphore) {
  const others = semaphore.holders?.other_tenants || 0;
  if (!semaphore.shown.length && !others) return h("span", { class: "muted" }, "free");
  return h(
    "ul",
    { class: "holders" },
    semaphore.shown.map((holder) => holderView(ctx, holder)),
    others ? h("li", { class: "muted" }, `${others} in other tenants`) : null,
  );
}

export async function renderSemaphores(ctx) {
  ctx.title("Semaphores");
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  liveView(ctx, {
    heading: "Semaphores",
    placeholder: "filter: semaphore, job or change",
    load: (signal) => load(ctx, signal),
    draw(semaphores, { term, body, summary }) {
      const held = semaphores.filter((s) => s.holders?.count).length;
      summary.textContent = `${semaphores.length} semaphore${semaphores.length === 1 ? "" : "s"}, ${held} held`;
      const shown = semaphores.filter((s) =>
        matchesTerm(term, [s.name, ...s.shown.flatMap((x) => [x.job, x.change, x.pipeline, x.project])]),
      );
      body.replaceChildren(
        shown.length
          ? table(
              ["Semaphore", "In use", "Holders", "Scope"],
              shown.map((s) =>
                h(
                  "tr",
                  { dataset: { semaphore: s.name, count: String(s.holders?.count || 0) } },
                  h("td", {}, link(`${base}/semaphore/${encodeURIComponent(s.name)}`, s.name)),
                  h("td", {}, usageBar(s.holders?.count || 0, s.max)),
                  h("td", {}, holdersList(ctx, s)),
                  h("td", { class: "muted" }, s.global ? "global" : "tenant"),
                ),
              ),
              { class: "list", id: "results-table" },
            )
          : message("info", semaphores.length ? "No semaphore matches." : "This tenant has no semaphores."),
      );
    },
  });
}

export async function renderSemaphore(ctx) {
  const name = ctx.args[0];
  ctx.title(`Semaphore ${name}`);
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  liveView(ctx, {
    heading: `Semaphore ${name}`,
    load: async (signal) => (await load(ctx, signal)).find((s) => s.name === name) || null,
    draw(s, { body, summary }) {
      summary.replaceChildren(link(`${base}/semaphores`, "all semaphores"));
      if (!s) {
        body.replaceChildren(message("error", `The tenant has no semaphore ${name}.`));
        return;
      }
      body.replaceChildren(
        facts([
          ["In use", usageBar(s.holders?.count || 0, s.max, { id: "semaphore-usage" })],
          ["Maximum", String(s.max)],
          ["Scope", s.global ? "global (shared by the tenants that use it)" : "this tenant"],
        ]),
        h("h2", {}, "Holders"),
        s.shown.length
          ? table(
              ["Job", "Pipeline", "Change", "Project"],
              s.shown.map((x) =>
                h(
                  "tr",
                  { dataset: { job: x.job } },
                  h("td", {}, link(`${base}/job/${encodeURIComponent(x.job)}`, x.job)),
                  h("td", {}, x.pipeline),
                  h(
                    "td",
                    {},
                    x.change
                      ? link(`${base}/status/change/${encodeURIComponent(x.change)}`, x.change)
                      : x.ref
                        ? h("code", {}, x.ref)
                        : h("span", { class: "muted", title: x.item }, `item ${String(x.item).slice(0, 8)}`),
                  ),
                  h("td", {}, x.project || ""),
                ),
              ),
              { class: "list", id: "holders-table" },
            )
          : message("info", "Nobody holds it now."),
      );
    },
  });
}
