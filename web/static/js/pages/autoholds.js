// Autoholds: the tenant's autohold requests (which project and job, which
// refs, how many failing builds to hold and how many are held, why, for how
// long the nodes are kept) and one request on its own page with its held
// builds and the nodes each keeps, with their state now.  Live (polled,
// live.js): a new held build, a node released or the request deleted shows
// without a reload.  An admin of the tenant (admin.js) creates a request
// here and deletes one from its row or its page; others use the admin API
// (zuul-client, `lockgate client`).

import { adminRights, autoholdDialog, deleteAutoholdAction } from "../admin.js";
import { ApiError, getJSON, pathName } from "../api.js";
import { facts, formatDuration, formatTime, h, link, message, table, timeCell } from "../dom.js";
import { liveView, matchesTerm } from "../live.js";
import { nodeStateClass } from "./nodes.js";

// A ref filter in words: ".*" is any ref; the filter an autohold for a
// change gets (every patchset of a Gerrit change, every head of a pull
// request) names the change; anything else is the expression itself.
export function refFilterText(filter) {
  if (!filter || filter === ".*") return { kind: "any", text: "any ref" };
  const parts = String(filter).split("|");
  const numbers = new Set();
  for (const part of parts) {
    const m = part.match(/^refs\/changes\/\\d\+\/(\d+)\/\.\*$/) || part.match(/^refs\/pull\/(\d+)\/\.\*$/);
    if (!m) return { kind: "regex", text: String(filter) };
    numbers.add(m[1]);
  }
  if (numbers.size === 1) return { kind: "change", text: `change ${[...numbers][0]}` };
  return { kind: "regex", text: String(filter) };
}

// How long held nodes are kept: 0 (or none) until the request is deleted.
export function expirationText(seconds) {
  return seconds ? formatDuration(seconds) : "until deleted";
}

// [{build, nodes: [ids]}] -> every held node id.
export function heldNodeIds(hold) {
  return (hold.nodes || []).flatMap((entry) => entry.nodes || []);
}

function refFilterView(filter) {
  const { kind, text } = refFilterText(filter);
  return kind === "regex" ? h("code", {}, text) : h("span", { title: filter }, text);
}

function countText(hold) {
  return `${hold.current_count ?? 0} / ${hold.max_count ?? 1}`;
}

function stateBadge(hold) {
  return hold.current_count >= hold.max_count
    ? h("span", { class: "badge muted", title: hold.expired ? `used up ${formatTime(hold.expired)}` : null }, "used up")
    : h("span", { class: "badge running" }, "waiting for a failure");
}

export async function renderAutoholds(ctx) {
  ctx.title("Autoholds");
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  const api = ctx.api.base;
  liveView(ctx, {
    heading: "Autoholds",
    placeholder: "filter: project, job, reason or id",
    load: async (signal) => {
      const [holds, rights] = await Promise.all([getJSON(`${api}/autohold`, signal), adminRights(ctx.tenant)]);
      return { holds, admin: rights.admin };
    },
    draw({ holds, admin }, { term, body, summary }) {
      const held = holds.reduce((n, hold) => n + heldNodeIds(hold).length, 0);
      summary.textContent = `${holds.length} request${holds.length === 1 ? "" : "s"}, ${held} node${held === 1 ? "" : "s"} held`;
      const shown = holds
        .filter((hold) => matchesTerm(term, [hold.id, hold.project, hold.job, hold.reason, hold.ref_filter]))
        .sort((a, b) => Number(a.id) - Number(b.id) || String(a.id).localeCompare(String(b.id)));
      body.replaceChildren(
        admin
          ? h(
              "p",
              { class: "actions" },
              h("button", { type: "button", id: "autohold-create", onclick: () => autoholdDialog(ctx) }, "New autohold request"),
            )
          : "",
        shown.length
          ? table(
              ["ID", "Project", "Job", "Refs", "Held", "State", "Reason", "Nodes kept", ...(admin ? [""] : [])],
              shown.map((hold) =>
                h(
                  "tr",
                  { dataset: { autohold: hold.id } },
                  h("td", {}, link(`${base}/autohold/${encodeURIComponent(hold.id)}`, String(hold.id))),
                  h("td", {}, link(`${base}/project/${pathName(hold.project)}`, hold.project)),
                  h("td", {}, link(`${base}/job/${encodeURIComponent(hold.job)}`, hold.job)),
                  h("td", {}, refFilterView(hold.ref_filter)),
                  h("td", { class: "num" }, countText(hold)),
                  h("td", {}, stateBadge(hold)),
                  h("td", {}, hold.reason || ""),
                  h("td", {}, expirationText(hold.node_expiration)),
                  admin
                    ? h(
                        "td",
                        {},
                        h(
                          "button",
                          { type: "button", class: "autohold-delete", onclick: () => deleteAutoholdAction(ctx, hold) },
                          "Delete",
                        ),
                      )
                    : null,
                ),
              ),
              { class: "list", id: "results-table" },
            )
          : message(
              "info",
              holds.length
                ? "No autohold matches."
                : admin
                  ? "No autohold requests."
                  : "No autohold requests. Make one with zuul-client autohold or lockgate client autohold.",
            ),
      );
    },
  });
}

export async function renderAutohold(ctx) {
  const id = ctx.args[0];
  ctx.title(`Autohold ${id}`);
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  const api = ctx.api.base;
  liveView(ctx, {
    heading: `Autohold ${id}`,
    load: async (signal) => {
      const [hold, nodes, rights] = await Promise.all([
        getJSON(`${api}/autohold/${encodeURIComponent(id)}`, signal).catch((e) => {
          // Deleted (or never made): said on the page, which keeps polling.
          if (e instanceof ApiError && e.status === 404) return null;
          throw e;
        }),
        getJSON(`${api}/nodes`, signal),
        adminRights(ctx.tenant),
      ]);
      return { hold, nodes: new Map(nodes.map((n) => [n.id, n])), admin: rights.admin };
    },
    draw({ hold, nodes, admin }, { body, summary }) {
      summary.replaceChildren(link(`${base}/autoholds`, "all autoholds"));
      if (!hold) {
        body.replaceChildren(
          message("info", `There is no autohold ${id} in this tenant (deleted, or never made); its nodes are released.`),
        );
        return;
      }
      const nodeView = (nodeId) => {
        const node = nodes.get(nodeId);
        return h(
          "li",
          { dataset: { node: nodeId } },
          h("code", {}, nodeId),
          " ",
          node
            ? h("span", { class: `badge ${nodeStateClass(node.state)}` }, node.state)
            : h("span", { class: "badge muted" }, "gone"),
          node?.hold_until ? h("span", { class: "muted" }, ` until ${formatTime(node.hold_until)}`) : null,
        );
      };
      body.replaceChildren(
        facts([
          ["Project", link(`${base}/project/${pathName(hold.project)}`, hold.project)],
          ["Job", link(`${base}/job/${encodeURIComponent(hold.job)}`, hold.job)],
          ["Refs", [refFilterView(hold.ref_filter), h("span", { class: "muted" }, " (", h("code", {}, hold.ref_filter), ")")]],
          ["Held", [countText(hold), " ", stateBadge(hold)]],
          ["Reason", hold.reason],
          ["Nodes kept", expirationText(hold.node_expiration)],
          ["Used up", hold.expired ? timeCell(hold.expired) : null],
        ]),
        h("h2", {}, "Held builds"),
        (hold.nodes || []).length
          ? table(
              ["Build", "Nodes"],
              hold.nodes.map((entry) =>
                h(
                  "tr",
                  { dataset: { build: entry.build } },
                  h("td", {}, link(`${base}/build/${encodeURIComponent(entry.build)}`, h("code", {}, entry.build))),
                  h("td", {}, h("ul", { class: "held-nodes" }, (entry.nodes || []).map(nodeView))),
                ),
              ),
              { class: "list", id: "held-builds" },
            )
          : message("info", "No build held yet: the next failing build of the job on a matching ref will be."),
        admin
          ? h(
              "p",
              { class: "actions" },
              h(
                "button",
                { type: "button", id: "autohold-delete", class: "danger", onclick: () => deleteAutoholdAction(ctx, hold) },
                "Delete this request",
              ),
              h("span", { class: "muted" }, " Its held nodes are released."),
            )
          : h(
              "p",
              { class: "muted" },
              "Deleting the request releases its nodes: zuul-client autohold-delete ",
              String(hold.id),
              " (or lockgate client autohold-delete) with an admin token, or log in here as an admin.",
            ),
      );
    },
  });
}
