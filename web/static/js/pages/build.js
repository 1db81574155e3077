// A build: its summary, then its console -- live while it runs (the
// console-stream websocket), afterwards the Ansible tasks from
// job-output.json (collapsible; failed tasks and their playbooks open) --
// its log files and artifacts.  And a buildset with its builds.  An admin
// of the tenant (admin.js) may hold the nodes of the job's next failure
// from a build, and re-enqueue a buildset's change or ref.

import { adminRights, autoholdDialog, reenqueueButton } from "../admin.js";
import { getJSON } from "../api.js";
import { readText } from "../net.js";
import {
  extLink,
  facts,
  formatDuration,
  h,
  link,
  message,
  parseTime,
  pre,
  resultBadge,
  resultClass,
  table,
  timeCell,
  yamlish,
} from "../dom.js";
import { liveConsole } from "./stream.js";

// Where to read a build's log files from: the web serves /logs/<uuid>/
// itself, so a log URL there is read from this origin (whatever host name
// the executor put in it); any other log server is read as it is.
export function logsBase(logUrl) {
  if (!logUrl) return null;
  try {
    const url = new URL(logUrl, location.href);
    if (url.pathname.startsWith("/logs/")) {
      return url.pathname.endsWith("/") ? url.pathname : url.pathname + "/";
    }
    return url.href.endsWith("/") ? url.href : url.href + "/";
  } catch (e) {
    return null;
  }
}

function refFacts(ref) {
  if (!ref) return [];
  const change = ref.change ? `${ref.change}${ref.patchset ? `,${ref.patchset}` : ""}` : null;
  return [
    ["Project", ref.project],
    ["Branch", ref.branch],
    ["Change", change ? extLink(ref.ref_url, change) : null],
    ["Ref", change ? null : extLink(ref.ref_url, ref.ref || "")],
    ["Revision", ref.newrev ? h("code", {}, ref.newrev) : null],
  ];
}

// Build `uuid` read again: if it has a result now, the page is drawn again
// (finished); otherwise the stream's reason stays, and `after` offers to try.
async function showIfEnded(ctx, uuid, after) {
  let build;
  try {
    build = await ctx.api.build(uuid, ctx.signal);
  } catch (e) {
    return;
  }
  if (ctx.signal.aborted) return;
  if (build.result) return ctx.navigate(location.pathname);
  after.append(
    message(
      "warn",
      "The build is still running, but its console cannot be streamed now: ",
      link(location.pathname, "try again"),
      ".",
    ),
  );
}

export async function renderBuild(ctx) {
  const uuid = ctx.args[0];
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  const build = await ctx.api.build(uuid, ctx.signal);
  ctx.title(`Build ${build.job_name}`);
  const running = !build.result;
  const actions = h("div", { class: "actions", id: "build-actions" });
  ctx.show(
    h(
      "h1",
      {},
      "Build ",
      link(`${base}/job/${encodeURIComponent(build.job_name)}`, build.job_name),
      " ",
      resultBadge(build.result, build.result || "in progress"),
    ),
    actions,
    facts([
      ["Result", resultBadge(build.result, build.result || "in progress")],
      ["Pipeline", build.pipeline],
      ...refFacts(build.ref),
      [
        "Buildset",
        build.buildset?.uuid
          ? link(`${base}/buildset/${encodeURIComponent(build.buildset.uuid)}`, build.buildset.uuid)
          : null,
      ],
      ["Start", timeCell(build.start_time)],
      ["End", timeCell(build.end_time)],
      ["Duration", formatDuration(build.duration)],
      ["Voting", build.voting === false ? "no" : "yes"],
      ["Nodeset", build.nodeset],
      ["Attempt final", build.final === false ? "no (retried)" : null],
      ["Held", build.held ? "yes" : null],
      ["Event", build.event_id ? h("code", {}, build.event_id) : null],
      ["Error", build.error_detail ? h("span", { class: "bad" }, build.error_detail) : null],
      ["Logs", build.log_url ? extLink(build.log_url, build.log_url) : null],
      ["UUID", h("code", {}, build.uuid)],
    ]),
  );
  adminRights(ctx.tenant).then(({ admin }) => {
    if (!admin || ctx.signal.aborted) return;
    const ref = build.ref || {};
    const change = ref.change ? String(ref.change) : "";
    actions.append(
      h(
        "button",
        {
          type: "button",
          id: "build-autohold",
          title: "keep the nodes of this job's next failing build",
          onclick: () => autoholdDialog(ctx, { project: ref.project || "", job: build.job_name, change }),
        },
        "Autohold",
      ),
    );
  });
  if (running) {
    const after = h("div", { id: "after-stream" });
    ctx.show(
      h("h2", {}, "Console"),
      after,
      liveConsole(ctx, uuid, (code) => {
        // The build ended: show its result, tasks and logs.
        if (code === 1000) setTimeout(() => !ctx.signal.aborted && ctx.navigate(location.pathname), 1000);
        // Nothing to stream: the build may have ended while the stream was
        // lost (or before it opened); then show it finished, not the reason.
        else if (code === 4011) showIfEnded(ctx, uuid, after);
      }),
    );
    return;
  }
  const logs = logsBase(build.log_url);
  const tasks = h("div", { id: "tasks" }, h("p", { class: "muted" }, "loading the tasks…"));
  const files = h("div", { id: "log-files" });
  ctx.show(
    h(
      "h2",
      {},
      "Console",
      logs ? h("small", {}, " ", extLink(`${logs}job-output.txt`, "job-output.txt")) : null,
    ),
    tasks,
    h("h2", {}, "Log files"),
    files,
    artifactsSection(build.artifacts || []),
    eventsSection(build.events || []),
  );
  if (!logs) {
    tasks.replaceChildren(message("info", "This build has no logs."));
    return;
  }
  showLogFiles(ctx, files, logs, "");
  try {
    const playbooks = await getJSON(`${logs}job-output.json`, ctx.signal);
    tasks.replaceChildren(taskView(playbooks));
  } catch (e) {
    if (e.name === "AbortError") return;
    tasks.replaceChildren(
      message("info", `No task record (job-output.json): ${e.message}. `, extLink(`${logs}job-output.txt`, "The console text"), " may say more."),
    );
  }
}

function artifactsSection(artifacts) {
  if (!artifacts.length) return null;
  return [
    h("h2", {}, "Artifacts"),
    h(
      "ul",
      { class: "artifacts", id: "artifacts" },
      artifacts.map((a) =>
        h(
          "li",
          {},
          extLink(a.url, a.name),
          a.metadata && Object.keys(a.metadata).length
            ? h("small", { class: "muted" }, ` ${JSON.stringify(a.metadata)}`)
            : null,
        ),
      ),
    ),
  ];
}

function eventsSection(events) {
  if (!events.length) return null;
  return [
    h("h2", {}, "Events"),
    table(
      ["Time", "Event", ""],
      events.map((e) =>
        h("tr", {}, h("td", {}, timeCell(e.event_time)), h("td", {}, e.event_type), h("td", {}, e.description || "")),
      ),
      { class: "list" },
    ),
  ];
}

// -- tasks ------------------------------------------------------------------

// Lockgate's callback records a "status" per host; Zuul's job-output.json
// has Ansible's flags (failed, skipped, unreachable, changed).
const RECORDED = {
  ok: "OK",
  changed: "CHANGED",
  skipped: "SKIPPED",
  failed: "FAILED",
  "failed-ignored": "FAILED (ignored)",
  unreachable: "UNREACHABLE",
};

function hostStatus(result) {
  if (!result) return "OK";
  if (RECORDED[result.status]) return RECORDED[result.status];
  if (result.unreachable) return "UNREACHABLE";
  if (result.failed) return result.ignore_errors || result.failed_when_result === false ? "FAILED (ignored)" : "FAILED";
  if (result.skipped) return "SKIPPED";
  if (result.changed) return "CHANGED";
  return "OK";
}

const STATUS_CLASS = {
  OK: "ok",
  CHANGED: "ok",
  SKIPPED: "muted",
  FAILED: "bad",
  "FAILED (ignored)": "warn",
  UNREACHABLE: "bad",
};

function seconds(duration) {
  if (!duration) return null;
  const start = parseTime(duration.start);
  const end = parseTime(duration.end);
  return start && end ? (end - start) / 1000 : null;
}

export function taskFailed(task) {
  return Object.values(task.hosts || {}).some((r) => {
    const s = hostStatus(r);
    return s === "FAILED" || s === "UNREACHABLE";
  });
}

const HIDDEN = ["changed", "failed", "skipped", "invocation", "status", "start", "end", "delta"];

function hostResult(host, result) {
  const shown = new Set(["cmd", "rc", "msg", "stdout", "stderr", "stdout_lines", "stderr_lines"]);
  const rest = {};
  for (const [k, v] of Object.entries(result || {})) {
    if (!shown.has(k) && !k.startsWith("_ansible") && !HIDDEN.includes(k)) {
      rest[k] = v;
    }
  }
  const cmd = Array.isArray(result?.cmd) ? result.cmd.join(" ") : result?.cmd;
  return h(
    "div",
    { class: "host-result" },
    h("h5", {}, host, " ", h("span", { class: `badge ${STATUS_CLASS[hostStatus(result)] || ""}` }, hostStatus(result))),
    facts([
      ["Command", cmd ? h("code", {}, cmd) : null],
      ["Return code", result?.rc ?? null],
      ["Message", typeof result?.msg === "string" ? result.msg : result?.msg ? yamlish(result.msg) : null],
    ]),
    result?.stdout ? [h("h6", {}, "stdout"), pre(result.stdout, { class: "output" })] : null,
    result?.stderr ? [h("h6", {}, "stderr"), pre(result.stderr, { class: "output stderr" })] : null,
    Object.keys(rest).length ? [h("h6", {}, "result"), pre(yamlish(rest), { class: "output" })] : null,
  );
}

function taskRow(task) {
  const failed = taskFailed(task);
  const hosts = Object.entries(task.hosts || {});
  const secs = seconds(task.task?.duration);
  return h(
    "details",
    { class: `task${failed ? " failed" : ""}`, open: failed, dataset: { task: task.task?.name || "" } },
    h(
      "summary",
      {},
      hosts.map(([host, r]) =>
        h("span", { class: `badge ${STATUS_CLASS[hostStatus(r)] || ""}`, title: host }, hostStatus(r)),
      ),
      " ",
      h("span", { class: "task-name" }, task.task?.name || "(unnamed task)"),
      hosts.length ? h("span", { class: "muted" }, ` ${hosts.map(([n]) => n).join(", ")}`) : null,
      secs !== null ? h("span", { class: "muted duration" }, formatDuration(secs)) : null,
    ),
    hosts.map(([host, r]) => hostResult(host, r)),
  );
}

// A playbook's path as its project has it: the executor's own directories
// (work/src/<canonical name>/, ansible/projects/<...>/) left out.
export function playbookName(path) {
  return String(path || "")
    .replace(/^.*\/work\/src\//, "")
    .replace(/^.*\/ansible\/projects\/[^/]+\//, "");
}

export function taskView(playbooks) {
  if (!Array.isArray(playbooks) || !playbooks.length) {
    return message("info", "No playbook ran.");
  }
  return h(
    "div",
    { class: "playbooks" },
    playbooks.map((pb) => {
      const failed = (pb.plays || []).some((play) => (play.tasks || []).some(taskFailed));
      const stats = Object.entries(pb.stats || {}).map(([host, s]) =>
        h(
          "span",
          { class: `stats${s.failures || s.unreachable ? " bad" : ""}` },
          `${host}: ok ${s.ok ?? 0} changed ${s.changed ?? 0} failed ${s.failures ?? 0}` +
            `${s.unreachable ? ` unreachable ${s.unreachable}` : ""} skipped ${s.skipped ?? 0}`,
        ),
      );
      return h(
        "details",
        { class: `playbook${failed ? " failed" : ""}`, open: failed },
        h(
          "summary",
          {},
          h("span", { class: "badge phase" }, pb.phase || ""),
          " ",
          h("span", { class: "playbook-path", title: pb.playbook || "" }, playbookName(pb.playbook)),
          pb.trusted ? h("small", { class: "muted" }, " trusted") : null,
          " ",
          stats,
        ),
        (pb.plays || []).map((play) =>
          h(
            "div",
            { class: "play" },
            h("h4", {}, "PLAY ", play.play?.name || ""),
            (play.tasks || []).map(taskRow),
          ),
        ),
      );
    }),
  );
}

// -- log files ----------------------------------------------------------------

// The web's directory listing of a build's logs, as [{name, dir, size}].
async function listing(url, signal) {
  const { response, text } = await readText(url, { signal });
  if (!response.ok) throw new Error(`${response.status}`);
  const doc = new DOMParser().parseFromString(text, "text/html");
  const entries = [];
  for (const row of doc.querySelectorAll("tr")) {
    const a = row.querySelector("a[href]");
    if (!a) continue;
    const href = a.getAttribute("href");
    if (href === "../" || href.startsWith("/") || href.includes("://")) continue;
    const cells = row.querySelectorAll("td");
    entries.push({
      name: decodeURIComponent(href.replace(/\/$/, "")),
      href,
      dir: href.endsWith("/"),
      size: cells[1] ? cells[1].textContent.trim() : "",
    });
  }
  return entries;
}

async function showLogFiles(ctx, container, base, prefix) {
  let entries;
  try {
    entries = await listing(base + prefix, ctx.signal);
  } catch (e) {
    if (e.name === "AbortError") return;
    container.replaceChildren(
      h("p", {}, "The log files are at ", extLink(base, base), "."),
    );
    return;
  }
  const list = h(
    "ul",
    { class: "files" },
    entries.map((entry) => {
      if (!entry.dir) {
        return h(
          "li",
          { class: "file" },
          h("a", { href: base + prefix + entry.href }, entry.name),
          entry.size ? h("small", { class: "muted" }, ` ${humanSize(entry.size)}`) : null,
        );
      }
      const sub = h("div", {});
      let loaded = false;
      return h(
        "li",
        { class: "dir" },
        h(
          "details",
          {
            ontoggle: (event) => {
              if (event.target.open && !loaded) {
                loaded = true;
                showLogFiles(ctx, sub, base, prefix + entry.href);
              }
            },
          },
          h("summary", {}, entry.name + "/"),
          sub,
        ),
      );
    }),
  );
  container.replaceChildren(entries.length ? list : h("p", { class: "muted" }, "(empty)"));
}

function humanSize(text) {
  const n = Number(text);
  if (!Number.isFinite(n)) return text;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

// -- buildset ---------------------------------------------------------------------

export async function renderBuildset(ctx) {
  const uuid = ctx.args[0];
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  const bs = await ctx.api.buildset(uuid, ctx.signal);
  ctx.title(`Buildset ${uuid.slice(0, 7)}`);
  const ref = (bs.refs || [])[0];
  const start = parseTime(bs.first_build_start_time);
  const end = parseTime(bs.last_build_end_time);
  const actions = h("div", { class: "actions", id: "buildset-actions" });
  adminRights(ctx.tenant).then(({ admin }) => {
    if (admin && !ctx.signal.aborted) actions.append(...[reenqueueButton(ctx, bs)].filter(Boolean));
  });
  ctx.show(
    h("h1", {}, "Buildset ", h("code", {}, uuid.slice(0, 7)), " ", resultBadge(bs.result, bs.result || "in progress")),
    actions,
    facts([
      ["Result", resultBadge(bs.result, bs.result || "in progress")],
      ["Message", bs.message],
      ["Pipeline", bs.pipeline],
      ...refFacts(ref),
      ["First build start", timeCell(bs.first_build_start_time)],
      ["Last build end", timeCell(bs.last_build_end_time)],
      ["Duration", start && end ? formatDuration((end - start) / 1000) : null],
      ["Event", bs.event_id ? h("code", {}, bs.event_id) : null],
      ["UUID", h("code", {}, bs.uuid)],
    ]),
    (bs.refs || []).length > 1
      ? [h("h2", {}, "Changes"), h("ul", {}, bs.refs.map((r) => h("li", {}, r.project, " ", extLink(r.ref_url, r.change ? `${r.change},${r.patchset}` : r.ref))))]
      : null,
    h("h2", {}, "Builds"),
    (bs.builds || []).length
      ? table(
          ["Job", "Result", "Voting", "Start", "Duration"],
          bs.builds.map((b) =>
            h(
              "tr",
              { class: resultClass(b.result), dataset: { uuid: b.uuid } },
              h("td", {}, link(`${base}/build/${encodeURIComponent(b.uuid)}`, b.job_name)),
              h("td", {}, resultBadge(b.result, b.result || "in progress")),
              h("td", {}, b.voting === false ? "no" : "yes"),
              h("td", {}, timeCell(b.start_time)),
              h("td", { class: "num" }, formatDuration(b.duration)),
            ),
          ),
          { class: "list", id: "buildset-builds" },
        )
      : message("info", "No builds."),
  );
}
