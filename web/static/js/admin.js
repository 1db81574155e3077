// Admin actions from the dashboard, where Zuul's dashboard has them: dequeue
// and promote in a status item's menu, re-enqueue on a buildset's page,
// create an autohold (the autoholds page, a build's page) and delete one
// (its row, its page).
//
// Who may act: the tenant's admin-rules, as the web decides them.  With a
// login stored (login.js), adminRights() asks the tenant's authorizations
// (GET /api/tenant/{t}/authorizations, Zuul's answer {"zuul": {"admin",
// "scope"}}) and the pages show the actions only to an admin, as Zuul's
// dashboard does.  Each action asks for a confirmation in a dialog, then
// calls the admin endpoint (web/api_admin.py, doc/web-api.md) with the
// stored token; a refusal (401, 403, or a 400 naming what is wrong) is shown
// in the dialog with the server's own words, and the dialog stays open.  A
// refusal of an action is not a refusal to read: it never brings the login
// panel (api.js does that for reads only).
//
// Enqueue, dequeue and promote carry an X-Lockgate-Request-Id made once
// per dialog, so a click repeated (or retried after a lost answer) is
// stored once.

import { ApiError, pathName } from "./api.js";
import { h, message } from "./dom.js";
import { claims, storedToken } from "./login.js";
import { readText } from "./net.js";

const RIGHTS_TTL = 60_000;
const NOTICE_MS = 8_000;

const rights = new Map(); // `${tenant}\n${token}` -> {at, promise}

// -- who may act -------------------------------------------------------------------

// {admin, user, problem} for the stored login on `tenant`: admin false and
// problem null without a login; problem the server's words when the token
// is refused (an expired one, a signature the service does not accept).
export function adminRights(tenant) {
  const token = storedToken();
  if (!token || !tenant) return Promise.resolve({ admin: false, user: null, problem: null });
  const key = `${tenant}\n${token}`;
  const hit = rights.get(key);
  if (hit && Date.now() - hit.at < RIGHTS_TTL) return hit.promise;
  const path = `/api/tenant/${encodeURIComponent(tenant)}/authorizations`;
  const user = userName(claims(token));
  const promise = request("GET", path, token).then(
    (body) => ({ admin: isAdminOf(body, tenant), user, problem: null }),
    (e) => {
      if (!(e instanceof ApiError) || (e.status !== 401 && e.status !== 403)) {
        rights.delete(key); // not an answer about the token: ask again next time
      }
      return { admin: false, user, problem: e.message };
    },
  );
  rights.set(key, { at: Date.now(), promise });
  return promise;
}

// The answer to a refused action may mean the rights changed: ask again.
export function forgetRights(tenant) {
  for (const key of rights.keys()) if (key.startsWith(`${tenant}\n`)) rights.delete(key);
}

export function isAdminOf(authorizations, tenant) {
  const zuul = authorizations && authorizations.zuul;
  if (!zuul || zuul.admin !== true) return false;
  const scope = Array.isArray(zuul.scope) ? zuul.scope : [];
  return scope.includes(tenant) || scope.includes("*");
}

function userName(who) {
  return (who && (who.name || who.preferred_username || who.sub)) || null;
}

// -- the admin endpoints -----------------------------------------------------------

function requestId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes); // (randomUUID needs a secure context; this does not)
  return "dash-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function request(method, path, token, body, id) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (id) headers["X-Lockgate-Request-Id"] = id;
  const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
  let response;
  let text;
  try {
    if (method === "GET") {
      ({ response, text } = await readText(path, init)); // a read: tried again after a network error
    } else {
      response = await fetch(path, init); // an action: once; the user sees the error and decides
      text = await response.text();
    }
  } catch (e) {
    throw new ApiError(0, `cannot reach the web service (${e.message})`);
  }
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    const reason =
      (data && (data.description || (typeof data.error === "string" && data.error))) ||
      `${response.status} ${response.statusText}`;
    const error = new ApiError(response.status, reason);
    error.error = data && typeof data.error === "string" ? data.error : null;
    throw error;
  }
  return data;
}

// The tenant's admin endpoints, called with the stored login.  `id` (from
// a dialog) makes a management event idempotent.
export function adminApi(tenant) {
  const base = `/api/tenant/${encodeURIComponent(tenant)}`;
  const send = async (method, path, body, id) => {
    const token = storedToken();
    if (!token) throw new ApiError(401, "Log in first: admin actions need a token.");
    try {
      return await request(method, path, token, body, id);
    } catch (e) {
      if (e.status === 401 || e.status === 403) forgetRights(tenant);
      throw e;
    }
  };
  const project = (name) => `${base}/project/${pathName(name)}`;
  return {
    dequeue: (target, id) =>
      send("POST", `${project(target.project)}/dequeue`, target.body, id),
    promote: (pipeline, changes, id) => send("POST", `${base}/promote`, { pipeline, changes }, id),
    enqueue: (target, id) => send("POST", `${project(target.project)}/enqueue`, target.body, id),
    createAutohold: (projectName, body) => send("POST", `${project(projectName)}/autohold`, body),
    deleteAutohold: (holdId) => send("DELETE", `${base}/autohold/${encodeURIComponent(holdId)}`),
  };
}

// -- what an action is about (pure) ------------------------------------------------

const CHANGE_ID = /^\d+,\S+$/;

// A status item's admin actions, as Zuul's item menu: dequeue its first
// change (or its ref, for a ref item); promote a change in a dependent
// pipeline.  Null where an action does not apply (an item that is not
// live is only there for the items behind it).
export function itemActions(pipeline, item) {
  if (!item || item.live === false) return { dequeue: null, promote: null };
  const ref = (item.refs && item.refs[0]) || { id: item.id, project: item.project, ref: item.ref };
  const change = ref.id && CHANGE_ID.test(String(ref.id)) ? String(ref.id) : null;
  const project = ref.project || item.project;
  let dequeue = null;
  if (project && change) dequeue = { project, label: `change ${change}`, body: { pipeline: pipeline.name, change } };
  else if (project && ref.ref) dequeue = { project, label: ref.ref, body: { pipeline: pipeline.name, ref: ref.ref } };
  const promote = change && pipeline.manager === "dependent" ? { change, project } : null;
  return { dequeue, promote };
}

// What re-enqueuing a buildset asks (Zuul's "Re-enqueue buildset"): its
// change again, or its ref with the same revisions; null if it has neither.
export function reenqueueTarget(buildset) {
  const ref = buildset && (buildset.refs || [])[0];
  if (!ref || !ref.project || !buildset.pipeline) return null;
  if (ref.change) {
    const change = `${ref.change},${ref.patchset || ""}`.replace(/,$/, "");
    return { project: ref.project, label: `change ${change}`, body: { pipeline: buildset.pipeline, change } };
  }
  if (!ref.ref) return null;
  return {
    project: ref.project,
    label: ref.ref,
    body: { pipeline: buildset.pipeline, ref: ref.ref, oldrev: ref.oldrev || "", newrev: ref.newrev || "" },
  };
}

// The autohold request a form asks for: {project, body} or an Error naming
// the field, before anything is sent.
export function autoholdRequest(values) {
  const text = (key) => String(values[key] ?? "").trim();
  const project = text("project");
  if (!project) throw new Error("Name the project.");
  const job = text("job");
  if (!job) throw new Error("Name the job.");
  const reason = text("reason");
  if (!reason) throw new Error("Give a reason (it is shown with the held nodes).");
  const change = text("change");
  const ref = text("ref");
  if (change && ref) throw new Error("Give a change or a ref expression, not both.");
  if (change && !/^\d+(,\S+)?$/.test(change)) throw new Error("A change is its number, or number,patchset (e.g. 1234 or 1234,2).");
  const count = text("count") || "1";
  if (!/^\d+$/.test(count) || Number(count) < 1) throw new Error("The count is a whole number, 1 or more.");
  const body = { job, reason, count: Number(count) };
  if (change) body.change = change;
  if (ref) body.ref = ref;
  const hours = text("hours");
  if (hours) {
    if (!/^\d+(\.\d+)?$/.test(hours)) throw new Error("Keep the nodes for a number of hours (0: until the request is deleted).");
    body.node_hold_expiration = Math.round(Number(hours) * 3600);
  }
  return { project, body };
}

// -- dialogs and notices -----------------------------------------------------------

// A notice at the bottom of the window, kept across page changes.
export function notify(kind, text) {
  let box = document.getElementById("notices");
  if (!box) {
    box = h("div", { id: "notices", "aria-live": "polite" });
    document.body.append(box);
  }
  const note = message(kind, text);
  box.append(note);
  setTimeout(() => note.remove(), NOTICE_MS);
  return note;
}

function refusal(e) {
  if (e.status === 401 || e.status === 403) {
    return [`Refused (${e.status}): ${e.message}`, h("br"), "Log in with another token (top right) if you have one that may."];
  }
  return e.status ? `The web answered ${e.status}: ${e.message}` : e.message;
}

// A modal dialog: a title, what the action will do, Confirm and Cancel.
// run(requestId) does it (throwing to refuse: the message shows in the
// dialog, which stays open for another try with the same request id);
// on success the dialog closes and `done` is noted.
export function confirmAction({ title, body, confirm = "Confirm", danger = false, run, done }) {
  document.getElementById("admin-dialog")?.remove();
  const id = requestId();
  const problem = h("div", { id: "admin-problem", role: "alert" });
  const ok = h("button", { type: "submit", id: "admin-confirm", class: danger ? "danger" : "primary" }, confirm);
  const cancel = h("button", { type: "button", id: "admin-cancel" }, "Cancel");
  const dialog = h(
    "dialog",
    { id: "admin-dialog", class: "admin-dialog", "aria-labelledby": "admin-dialog-title" },
    h(
      "form",
      { method: "dialog" },
      h("h2", { id: "admin-dialog-title" }, title),
      body,
      problem,
      h("div", { class: "dialog-buttons" }, ok, cancel),
    ),
  );
  const close = () => {
    dialog.close();
    dialog.remove();
  };
  cancel.addEventListener("click", close);
  dialog.addEventListener("input", () => problem.replaceChildren()); // a form edited: the old complaint goes
  dialog.addEventListener("cancel", () => dialog.remove()); // Escape
  dialog.querySelector("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (ok.disabled) return;
    ok.disabled = true;
    problem.replaceChildren(h("p", { class: "muted" }, "sending…"));
    try {
      const result = await run(id);
      close();
      if (done) notify("ok", typeof done === "function" ? done(result) : done);
    } catch (e) {
      problem.replaceChildren(message("error", refusal(e)));
      ok.disabled = false;
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

// -- the actions, drawn -----------------------------------------------------------

// A status item's menu (an admin's only): Dequeue, and Promote in a
// dependent pipeline.  Its open state survives the status page's redraws
// (kept in `open`, a Set of keys the page holds).
export function itemMenu(ctx, pipeline, item, open) {
  const { dequeue, promote } = itemActions(pipeline, item);
  if (!dequeue && !promote) return null;
  const key = `${pipeline.name}/${item.id}`;
  const menu = h(
    "details",
    { class: "item-menu", open: open.has(key), dataset: { menu: key } },
    h("summary", { title: "admin actions", "aria-label": "admin actions" }, "⋮"),
  );
  menu.addEventListener("toggle", () => (menu.open ? open.add(key) : open.delete(key)));
  const choose = (fn) => () => {
    open.delete(key);
    menu.open = false;
    fn();
  };
  const api = adminApi(ctx.tenant);
  const buttons = [];
  if (dequeue) {
    buttons.push(
      h(
        "button",
        {
          type: "button",
          class: "menu-dequeue",
          title: "stop every job of this item and take it out of the pipeline",
          onclick: choose(() =>
            confirmAction({
              title: `Dequeue ${dequeue.label}?`,
              body: h(
                "p",
                {},
                "Every running build of ",
                h("strong", {}, dequeue.label),
                " of ",
                h("strong", {}, dequeue.project),
                ` is cancelled and the item leaves ${pipeline.name}; the items behind it restart without it.`,
              ),
              confirm: "Dequeue",
              danger: true,
              run: (id) => api.dequeue(dequeue, id),
              done: `Dequeue of ${dequeue.label} sent: the scheduler acts on it at its next pass.`,
            }),
          ),
        },
        "Dequeue",
      ),
    );
  }
  if (promote) {
    buttons.push(
      h(
        "button",
        {
          type: "button",
          class: "menu-promote",
          title: "move this change to the head of its queue",
          onclick: choose(() =>
            confirmAction({
              title: `Promote change ${promote.change}?`,
              body: h(
                "p",
                {},
                "Change ",
                h("strong", {}, promote.change),
                ` goes to the head of its queue in ${pipeline.name}; the items it passes restart behind it.`,
              ),
              confirm: "Promote",
              run: (id) => api.promote(pipeline.name, [promote.change], id),
              done: `Promote of change ${promote.change} sent.`,
            }),
          ),
        },
        "Promote",
      ),
    );
  }
  menu.append(h("div", { class: "menu" }, buttons));
  return menu;
}

// The buildset page's "Re-enqueue" (null if the buildset names nothing to enqueue).
export function reenqueueButton(ctx, buildset) {
  const target = reenqueueTarget(buildset);
  if (!target) return null;
  const api = adminApi(ctx.tenant);
  return h(
    "button",
    {
      type: "button",
      id: "buildset-reenqueue",
      onclick: () =>
        confirmAction({
          title: `Re-enqueue ${target.label}?`,
          body: h(
            "p",
            {},
            h("strong", {}, target.label),
            " of ",
            h("strong", {}, target.project),
            ` is enqueued in ${buildset.pipeline} again, whatever the pipeline's triggers say.`,
          ),
          confirm: "Re-enqueue",
          run: (id) => api.enqueue(target, id),
          done: `${target.label} enqueued in ${buildset.pipeline}: the scheduler acts on it at its next pass.`,
        }),
    },
    "Re-enqueue",
  );
}

// The form of a new autohold request (Zuul's "autohold" command), filled
// from `prefill` ({project, job, change}); `onDone` after it is made.
export function autoholdDialog(ctx, prefill = {}, onDone = null) {
  const field = (name, label, attrs = {}) =>
    h(
      "label",
      {},
      h("span", {}, label),
      h("input", { name, id: `autohold-${name}`, value: prefill[name] ?? "", autocomplete: "off", ...attrs }),
    );
  const form = h(
    "div",
    { class: "autohold-form" },
    field("project", "Project", { placeholder: "org/app" }),
    field("job", "Job", { placeholder: "unit" }),
    field("change", "Change (optional)", { placeholder: "1234 or 1234,2: any patchset if no patchset" }),
    field("ref", "Ref expression (optional)", { placeholder: "a regular expression; default any ref" }),
    field("reason", "Reason", { placeholder: "why the nodes are kept" }),
    field("count", "Failing builds to hold", { type: "number", min: 1, value: prefill.count ?? 1 }),
    field("hours", "Keep the nodes (hours; empty: the service's default)", { placeholder: "" }),
  );
  const api = adminApi(ctx.tenant);
  return confirmAction({
    title: "New autohold request",
    body: [h("p", { class: "muted" }, "The next failing builds of the job (on a matching change or ref) keep their nodes for you to inspect."), form],
    confirm: "Create",
    run: async () => {
      const values = Object.fromEntries(
        [...form.querySelectorAll("input")].map((input) => [input.name, input.value]),
      );
      const { project, body } = autoholdRequest(values);
      await api.createAutohold(project, body);
      if (onDone) onDone();
      return { project, body };
    },
    done: ({ project, body }) => `Autohold for ${project} ${body.job} created.`,
  });
}

export function deleteAutoholdAction(ctx, hold, onDone = null) {
  const api = adminApi(ctx.tenant);
  return confirmAction({
    title: `Delete autohold ${hold.id}?`,
    body: h(
      "p",
      {},
      `The request for ${hold.project} ${hold.job} is deleted`,
      (hold.nodes || []).length ? " and the nodes it holds are released (the launcher deletes them)." : ".",
    ),
    confirm: "Delete",
    danger: true,
    run: () => api.deleteAutohold(hold.id),
    done: () => {
      if (onDone) onDone();
      return `Autohold ${hold.id} deleted.`;
    },
  });
}

// The header's login corner says whether the login may act on this tenant.
export async function markAdmin(tenant) {
  if (!tenant || !storedToken()) return;
  const { admin, problem } = await adminRights(tenant);
  const corner = document.getElementById("login-user");
  if (!corner || corner.querySelector("#admin-badge")) return;
  const badge = admin
    ? h("span", { class: "badge ok", id: "admin-badge", title: `may act on tenant ${tenant}` }, "admin")
    : problem
      ? h("span", { class: "badge bad", id: "admin-badge", title: problem }, "token refused")
      : null;
  if (badge) corner.insertBefore(badge, corner.querySelector("#logout"));
}
