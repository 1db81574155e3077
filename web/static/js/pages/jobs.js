// Jobs: the tenant's jobs (filterable), and one job: its inheritance chain
// and every variant (where it is defined, branches, parent, nodeset,
// playbooks, variables...).

import {
  facts,
  h,
  link,
  message,
  pre,
  table,
  yamlish,
} from "../dom.js";

export async function renderJobs(ctx) {
  ctx.title("Jobs");
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  const jobs = await ctx.api.jobs(ctx.signal);
  const filter = h("input", {
    type: "search",
    id: "jobs-filter",
    placeholder: "filter jobs",
    value: ctx.query.get("filter") || "",
    "aria-label": "filter jobs",
  });
  const body = h("div", { id: "results" });
  const draw = () => {
    const term = filter.value.trim().toLowerCase();
    const shown = jobs.filter(
      (j) =>
        !term ||
        j.name.toLowerCase().includes(term) ||
        (j.description || "").toLowerCase().includes(term) ||
        (j.tags || []).some((t) => t.toLowerCase().includes(term)),
    );
    body.replaceChildren(
      shown.length
        ? table(
            ["Job", "Description", "Parents", "Tags"],
            shown.map((j) =>
              h(
                "tr",
                { dataset: { job: j.name } },
                h("td", {}, link(`${base}/job/${encodeURIComponent(j.name)}`, j.name)),
                h("td", {}, j.description || ""),
                h("td", { class: "muted" }, [...new Set((j.variants || []).map((v) => v.parent).filter(Boolean))].join(", ")),
                h("td", {}, (j.tags || []).map((t) => h("span", { class: "tag" }, t))),
              ),
            ),
            { class: "list", id: "results-table" },
          )
        : message("info", jobs.length ? "No job matches." : "This tenant has no jobs."),
    );
  };
  filter.addEventListener("input", () => {
    ctx.setQuery({ filter: filter.value.trim() });
    draw();
  });
  ctx.show(h("h1", {}, "Jobs"), h("div", { class: "toolbar" }, filter, h("span", { class: "muted" }, `${jobs.length} jobs`)), body);
  draw();
}

// The chain of parents of `name` (base first), from each job's first variant.
async function inheritance(ctx, name, variants) {
  const chain = [name];
  let parent = variants[0]?.parent;
  while (parent && !chain.includes(parent) && chain.length < 30) {
    chain.unshift(parent);
    let found;
    try {
      found = await ctx.api.job(parent, ctx.signal);
    } catch (e) {
      if (e.name === "AbortError") throw e;
      break;
    }
    parent = found?.[0]?.parent;
  }
  return chain;
}

function sourceOf(ctx) {
  if (!ctx) return "";
  return `${ctx.project || ""}${ctx.branch ? ` @ ${ctx.branch}` : ""}${ctx.path ? ` : ${ctx.path}` : ""}`;
}

export function playbookList(label, playbooks) {
  if (!playbooks || !playbooks.length) return null;
  return [
    h("h4", {}, label),
    h(
      "ul",
      { class: "playbook-list" },
      playbooks.map((p) =>
        h(
          "li",
          {},
          h("code", {}, typeof p === "string" ? p : p.path),
          p.source_context ? h("span", { class: "muted" }, ` (${sourceOf(p.source_context)})`) : null,
          p.trusted ? h("small", { class: "muted" }, " trusted") : null,
        ),
      ),
    ),
  ];
}

export function nodesetView(nodeset) {
  if (!nodeset) return null;
  const nodes = nodeset.nodes || [];
  if (!nodes.length && !nodeset.name) return null;
  return h(
    "span",
    {},
    nodeset.name ? h("code", {}, nodeset.name) : null,
    nodes.length
      ? ` ${nodes.map((n) => `${Array.isArray(n.name) ? n.name.join(",") : n.name} (${n.label})`).join(", ")}`
      : "",
  );
}

export function varsBlock(label, value) {
  if (!value || (typeof value === "object" && !Object.keys(value).length)) return null;
  return [h("h4", {}, label), pre(yamlish(value), { class: "vars" })];
}

function variantView(ctx, variant, i) {
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  const list = (xs) => (xs && xs.length ? xs.join(", ") : null);
  return h(
    "section",
    { class: "variant card", dataset: { variant: String(i) } },
    h("h3", {}, `Variant ${i + 1}`, variant.variant_description ? ` — ${variant.variant_description}` : ""),
    facts([
      ["Defined in", sourceOf(variant.source_context)],
      ["Parent", variant.parent ? link(`${base}/job/${encodeURIComponent(variant.parent)}`, variant.parent) : "(none: a base job)"],
      ["Description", variant.description],
      ["Branches", list(variant.branches)],
      ["Files", list(variant.files)],
      ["Irrelevant files", list(variant.irrelevant_files)],
      ["Nodeset", nodesetView(variant.nodeset)],
      ["Voting", variant.voting === false ? "no" : null],
      ["Abstract", variant.abstract ? "yes" : null],
      ["Final", variant.final ? "yes" : null],
      ["Protected", variant.protected ? "yes" : null],
      ["Timeout", variant.timeout ? `${variant.timeout}s` : null],
      ["Attempts", variant.attempts],
      ["Tags", list(variant.tags)],
      ["Provides", list(variant.provides)],
      ["Requires", list(variant.requires)],
      [
        "Dependencies",
        list((variant.dependencies || []).map((d) => (typeof d === "string" ? d : `${d.name}${d.soft ? " (soft)" : ""}`))),
      ],
      ["Semaphores", list((variant.semaphores || []).map((s) => (typeof s === "string" ? s : s.name)))],
      [
        "Required projects",
        list((variant.required_projects || []).map((p) => `${p.project_name || p.name || ""}${p.override_branch ? ` (${p.override_branch})` : ""}`)),
      ],
      ["Roles", list((variant.roles || []).map((r) => r.target_name || r.project_canonical_name || r.name || JSON.stringify(r)))],
    ]),
    playbookList("Pre-run", variant.pre_run),
    playbookList("Run", variant.run),
    playbookList("Post-run", variant.post_run),
    playbookList("Cleanup-run", variant.cleanup_run),
    varsBlock("Variables", variant.variables),
    varsBlock("Extra variables", variant.extra_variables),
    varsBlock("Host variables", variant.host_variables),
    varsBlock("Group variables", variant.group_variables),
  );
}

export async function renderJob(ctx) {
  const name = ctx.args[0];
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  ctx.title(`Job ${name}`);
  const variants = await ctx.api.job(name, ctx.signal);
  const chainBox = h("p", { class: "chain", id: "inheritance" }, "Inheritance: …");
  ctx.show(
    h("h1", {}, "Job ", name),
    chainBox,
    h("p", {}, link(`${base}/builds?job_name=${encodeURIComponent(name)}`, "its builds")),
    (variants || []).map((v, i) => variantView(ctx, v, i)),
  );
  const chain = await inheritance(ctx, name, variants || []);
  chainBox.replaceChildren(
    "Inheritance: ",
    ...chain.flatMap((job, i) => [
      i ? " → " : "",
      job === name ? h("strong", {}, job) : link(`${base}/job/${encodeURIComponent(job)}`, job),
    ]),
  );
}
