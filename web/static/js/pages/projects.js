// Projects: the tenant's projects, and one project: its settings, its
// pipelines and jobs, and for each pipeline the job graph as a picture;
// choosing a job in the graph shows it frozen for that project, pipeline
// and branch (inheritance path, playbooks, nodeset, variables).

import { jobGraph } from "../graph.js";
import { facts, h, link, message, table } from "../dom.js";
import { nodesetView, playbookList, varsBlock } from "./jobs.js";

export async function renderProjects(ctx) {
  ctx.title("Projects");
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  const projects = await ctx.api.projects(ctx.signal);
  ctx.show(
    h("h1", {}, "Projects"),
    projects.length
      ? table(
          ["Project", "Connection", "Type"],
          projects.map((p) =>
            h(
              "tr",
              { dataset: { project: p.name } },
              h("td", {}, link(`${base}/project/${p.name.split("/").map(encodeURIComponent).join("/")}`, p.name)),
              h("td", {}, p.connection_name || ""),
              h("td", {}, p.type || ""),
            ),
          ),
          { class: "list", id: "results-table" },
        )
      : message("info", "This tenant has no projects."),
  );
}

// Pipelines of the project across its config objects: name -> [job names].
export function projectPipelines(project) {
  const pipelines = new Map();
  for (const config of project.configs || []) {
    for (const pipeline of config.pipelines || []) {
      const names = pipelines.get(pipeline.name) || [];
      for (const variants of pipeline.jobs || []) {
        const first = Array.isArray(variants) ? variants[0] : variants;
        const name = typeof first === "string" ? first : first?.name;
        if (name && !names.includes(name)) names.push(name);
      }
      pipelines.set(pipeline.name, names);
    }
  }
  return pipelines;
}

export async function renderProject(ctx) {
  const name = ctx.args[0];
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  ctx.title(`Project ${name}`);
  const project = await ctx.api.project(name, ctx.signal);
  const md = project.metadata || {};
  // The graph is frozen for a branch the project's configuration is on:
  // its default branch if that is one of them.
  const branches = [
    ...new Set((project.configs || []).map((c) => c.source_context?.branch).filter(Boolean)),
  ];
  const preferred = md.default_branch || (project.configs || [])[0]?.default_branch;
  const branch = branches.includes(preferred) ? preferred : branches[0] || preferred || "master";
  const pipelines = projectPipelines(project);
  ctx.show(
    h("h1", {}, "Project ", project.name),
    facts([
      ["Canonical name", project.canonical_name],
      ["Connection", project.connection_name],
      ["Default branch", branch],
      ["Merge mode", md.merge_mode],
      ["Queue", md.queue_name],
      [
        "Templates",
        [...new Set((project.configs || []).flatMap((c) => c.templates || []))].join(", ") || null,
      ],
      ["Defined in", (project.configs || []).map((c) => c.source_context && `${c.source_context.project} @ ${c.source_context.branch}: ${c.source_context.path}`).filter(Boolean).join("; ") || null],
    ]),
    h("p", {}, link(`${base}/builds?project=${encodeURIComponent(project.name)}`, "its builds"), " · ", link(`${base}/status?filter=${encodeURIComponent(project.name)}`, "in the status")),
  );
  if (!pipelines.size) {
    ctx.show(message("info", "This project runs no jobs in any pipeline."));
    return;
  }
  for (const [pipeline, jobs] of pipelines) {
    const graphBox = h("div", { class: "graph-box" }, h("p", { class: "muted" }, "drawing the job graph…"));
    const frozen = h("div", { class: "frozen" });
    ctx.show(
      h(
        "section",
        { class: "project-pipeline card", dataset: { pipeline } },
        h("h2", {}, pipeline),
        h("p", {}, "Jobs: ", jobs.flatMap((j, i) => [i ? ", " : "", link(`${base}/job/${encodeURIComponent(j)}`, j)])),
        h("h3", {}, `Job graph (branch ${branch})`),
        graphBox,
        frozen,
      ),
    );
    drawGraph(ctx, graphBox, frozen, pipeline, project.name, branch);
  }
}

async function drawGraph(ctx, graphBox, frozen, pipeline, project, branch) {
  let jobs;
  try {
    jobs = await ctx.api.freezeJobs(pipeline, project, branch, ctx.signal);
  } catch (e) {
    if (e.name === "AbortError") return;
    graphBox.replaceChildren(message("warn", `No job graph: ${e.message}`));
    return;
  }
  if (!jobs.length) {
    graphBox.replaceChildren(message("info", "No job runs here."));
    return;
  }
  const select = async (job) => {
    for (const node of graphBox.querySelectorAll("g.node")) {
      node.classList.toggle("selected", node.dataset.job === job);
    }
    frozen.replaceChildren(h("p", { class: "muted" }, `freezing ${job}…`));
    try {
      const data = await ctx.api.freezeJob(pipeline, project, branch, job, ctx.signal);
      frozen.replaceChildren(frozenJobView(ctx, job, data));
    } catch (e) {
      if (e.name !== "AbortError") frozen.replaceChildren(message("error", e.message));
    }
  };
  graphBox.replaceChildren(jobGraph(jobs, select));
}

export function frozenJobView(ctx, name, data) {
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  const path = (data.zuul && data.zuul._inheritance_path) || data.inheritance_path || [];
  return h(
    "div",
    { class: "frozen-job", dataset: { job: name } },
    h("h3", {}, "Frozen job ", link(`${base}/job/${encodeURIComponent(name)}`, name)),
    facts([
      ["Timeout", data.timeout ? `${data.timeout}s` : null],
      ["Post timeout", data.post_timeout ? `${data.post_timeout}s` : null],
      ["Nodeset", nodesetView(data.nodeset)],
      ["Override checkout", data.override_checkout],
    ]),
    path.length
      ? [h("h4", {}, "Inheritance path"), h("ol", { class: "inheritance-path" }, path.map((p) => h("li", {}, h("code", {}, p))))]
      : null,
    playbookList("Pre-run", data.pre_playbooks),
    playbookList("Run", data.playbooks),
    playbookList("Post-run", data.post_playbooks),
    playbookList("Cleanup-run", data.cleanup_playbooks),
    varsBlock("Variables", data.vars),
    varsBlock("Extra variables", data.extra_vars),
    varsBlock("Host variables", data.host_vars),
    varsBlock("Group variables", data.group_vars),
  );
}
