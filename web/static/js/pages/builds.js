// Builds and buildsets: tables with the API's filters (kept in the page's
// query string, so a filtered view is a link) and paging by `skip`.

import {
  extLink,
  formatDuration,
  h,
  link,
  message,
  parseTime,
  resultBadge,
  shortSha,
  table,
  timeCell,
} from "../dom.js";

export const PAGE = 50;

function changeCell(ref) {
  if (!ref) return "";
  const label = ref.change
    ? `${ref.change}${ref.patchset ? `,${ref.patchset}` : ""}`
    : `${(ref.ref || "").replace(/^refs\/(heads|tags)\//, "")} ${shortSha(ref.newrev)}`.trim();
  return extLink(ref.ref_url, label);
}

function filterForm(ctx, fields, onChange) {
  const inputs = fields.map(([name, label]) =>
    h(
      "label",
      {},
      label,
      h("input", { name, value: ctx.query.get(name) || "", size: 14, "data-filter": name }),
    ),
  );
  const form = h(
    "form",
    { class: "filters", role: "search" },
    inputs,
    h("button", { type: "submit" }, "Filter"),
    h(
      "button",
      {
        type: "button",
        onclick: () => {
          for (const label of inputs) label.querySelector("input").value = "";
          onChange();
        },
      },
      "Clear",
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onChange();
  });
  return form;
}

function formValues(form) {
  const values = {};
  for (const input of form.querySelectorAll("input[data-filter]")) {
    if (input.value.trim()) values[input.name] = input.value.trim();
  }
  return values;
}

function pager(skip, count, go) {
  return h(
    "div",
    { class: "pager" },
    h("button", { type: "button", disabled: skip <= 0, onclick: () => go(Math.max(0, skip - PAGE)) }, "‹ newer"),
    h("span", { class: "muted" }, count ? `${skip + 1}–${skip + count}` : "none"),
    h("button", { type: "button", disabled: count < PAGE, onclick: () => go(skip + PAGE) }, "older ›"),
  );
}

// A filtered, paged table: fetch(params) -> rows; row(record) -> <tr>.
async function pagedTable(ctx, { title, fields, fetch, headers, row, empty }) {
  ctx.title(title);
  const results = h("div", { id: "results" });
  const form = filterForm(ctx, fields, () => load(0));
  ctx.show(h("h1", {}, title), form, results);
  async function load(skip) {
    const filters = formValues(form);
    ctx.setQuery({ ...filters, skip: skip ? String(skip) : "" });
    results.replaceChildren(h("p", { class: "muted" }, "loading…"));
    let records;
    try {
      records = await fetch({ ...filters, limit: PAGE, skip: skip || undefined }, ctx.signal);
    } catch (e) {
      if (e.name === "AbortError") return;
      results.replaceChildren(message("error", e.message));
      return;
    }
    results.replaceChildren(
      records.length
        ? table(headers, records.map(row), { class: "list", id: "results-table" })
        : message("info", empty),
      pager(skip, records.length, load),
    );
  }
  const skip = parseInt(ctx.query.get("skip") || "0", 10);
  await load(Number.isFinite(skip) && skip > 0 ? skip : 0);
}

export async function renderBuilds(ctx) {
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  await pagedTable(ctx, {
    title: "Builds",
    fields: [
      ["project", "Project"],
      ["pipeline", "Pipeline"],
      ["job_name", "Job"],
      ["branch", "Branch"],
      ["change", "Change"],
      ["result", "Result"],
    ],
    fetch: ctx.api.builds,
    headers: ["Job", "Project", "Branch", "Pipeline", "Change", "Start", "Duration", "Result"],
    empty: "No builds match.",
    row: (b) =>
      h(
        "tr",
        { dataset: { uuid: b.uuid } },
        h("td", {}, link(`${base}/build/${encodeURIComponent(b.uuid)}`, b.job_name)),
        h("td", {}, b.ref?.project || ""),
        h("td", {}, b.ref?.branch || ""),
        h("td", {}, b.pipeline || ""),
        h("td", {}, changeCell(b.ref)),
        h("td", {}, timeCell(b.start_time)),
        h("td", { class: "num" }, formatDuration(b.duration)),
        h("td", {}, resultBadge(b.result, b.result || "in progress")),
      ),
  });
}

export async function renderBuildsets(ctx) {
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  await pagedTable(ctx, {
    title: "Buildsets",
    fields: [
      ["project", "Project"],
      ["pipeline", "Pipeline"],
      ["branch", "Branch"],
      ["change", "Change"],
      ["result", "Result"],
    ],
    fetch: ctx.api.buildsets,
    headers: ["Buildset", "Project", "Branch", "Pipeline", "Change", "Start", "Duration", "Result"],
    empty: "No buildsets match.",
    row: (bs) => {
      const ref = (bs.refs || [])[0];
      const start = parseTime(bs.first_build_start_time);
      const end = parseTime(bs.last_build_end_time);
      return h(
        "tr",
        { dataset: { uuid: bs.uuid } },
        h("td", {}, link(`${base}/buildset/${encodeURIComponent(bs.uuid)}`, bs.uuid.slice(0, 7))),
        h("td", {}, ref?.project || ""),
        h("td", {}, ref?.branch || ""),
        h("td", {}, bs.pipeline || ""),
        h("td", {}, changeCell(ref)),
        h("td", {}, timeCell(bs.first_build_start_time)),
        h("td", { class: "num" }, start && end ? formatDuration((end - start) / 1000) : ""),
        h("td", {}, resultBadge(bs.result, bs.result || "in progress")),
      );
    },
  });
}
