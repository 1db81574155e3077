// The dashboard's entry point: the header, the router, and navigation
// without reloading.  Each page is a module with render(ctx); ctx carries
// the tenant, the path's arguments, the query, the page's container, an
// AbortSignal that fires when the user leaves the page (pages stop polling
// and close websockets on it), and the tenant's API.  Above a tenant's
// page, a banner while its events are paused or discarded (eventstate.js):
// from the tenant's info, or from the page itself (ctx.eventState: the
// status page hands over each status answer's state).

import { poll, tenantApi } from "./api.js";
import { markAdmin } from "./admin.js";
import { AUTH_EVENT, authControl, loginGate } from "./login.js";
import { append, clear, h, message } from "./dom.js";
import { eventStateBanner } from "./eventstate.js";
import * as autoholds from "./pages/autoholds.js";
import * as builds from "./pages/builds.js";
import * as build from "./pages/build.js";
import * as errors from "./pages/errors.js";
import * as jobs from "./pages/jobs.js";
import * as nodes from "./pages/nodes.js";
import * as projects from "./pages/projects.js";
import * as semaphores from "./pages/semaphores.js";
import * as status from "./pages/status.js";
import * as stream from "./pages/stream.js";
import * as tenants from "./pages/tenants.js";

const T = "/t/([^/]+)";
const ROUTES = [
  [/^\/(tenants)?$/, tenants.render, null],
  [new RegExp(`^${T}/?$`), status.render, "status"],
  [new RegExp(`^${T}/status$`), status.render, "status"],
  [new RegExp(`^${T}/status/change/(.+)$`), status.renderChange, "status"],
  [new RegExp(`^${T}/stream/([^/]+)$`), stream.render, "status"],
  [new RegExp(`^${T}/builds$`), builds.renderBuilds, "builds"],
  [new RegExp(`^${T}/buildsets$`), builds.renderBuildsets, "buildsets"],
  [new RegExp(`^${T}/build/([^/]+)$`), build.renderBuild, "builds"],
  [new RegExp(`^${T}/buildset/([^/]+)$`), build.renderBuildset, "buildsets"],
  [new RegExp(`^${T}/jobs$`), jobs.renderJobs, "jobs"],
  [new RegExp(`^${T}/job/(.+)$`), jobs.renderJob, "jobs"],
  [new RegExp(`^${T}/projects$`), projects.renderProjects, "projects"],
  [new RegExp(`^${T}/project/(.+)$`), projects.renderProject, "projects"],
  [new RegExp(`^${T}/config-errors$`), errors.render, "config-errors"],
  [new RegExp(`^${T}/labels$`), nodes.renderLabels, "labels"],
  [new RegExp(`^${T}/nodes$`), nodes.renderNodes, "nodes"],
  [new RegExp(`^${T}/autoholds$`), autoholds.renderAutoholds, "autoholds"],
  [new RegExp(`^${T}/autohold/([^/]+)$`), autoholds.renderAutohold, "autoholds"],
  [new RegExp(`^${T}/semaphores$`), semaphores.renderSemaphores, "semaphores"],
  [new RegExp(`^${T}/semaphore/(.+)$`), semaphores.renderSemaphore, "semaphores"],
];

const SECTIONS = [
  ["status", "Status"],
  ["projects", "Projects"],
  ["jobs", "Jobs"],
  ["labels", "Labels"],
  ["nodes", "Nodes"],
  ["autoholds", "Autoholds"],
  ["semaphores", "Semaphores"],
  ["builds", "Builds"],
  ["buildsets", "Buildsets"],
  ["config-errors", "Config errors"],
];

let current = null; // the AbortController of the page on screen
const INFO_INTERVAL = 30_000; // how often a tenant page reads the tenant's event state

function header(tenant, section) {
  const nav = tenant
    ? SECTIONS.map(([key, label]) =>
        h(
          "a",
          {
            href: `/t/${encodeURIComponent(tenant)}/${key}`,
            "data-nav": "",
            class: key === section ? "active" : null,
            "aria-current": key === section ? "page" : null,
          },
          label,
        ),
      )
    : [];
  return h(
    "header",
    { class: "top" },
    h("a", { href: "/", "data-nav": "", class: "brand" }, "Lockgate"),
    tenant ? h("span", { class: "tenant", title: "tenant" }, tenant) : null,
    h("nav", {}, nav),
    authControl(() => document.getElementById("main"), route),
  );
}

async function route() {
  if (current) current.abort();
  const controller = new AbortController();
  current = controller;
  const path = location.pathname;
  const match = ROUTES.map(([re, fn, section]) => [path.match(re), fn, section]).find(
    ([m]) => m,
  );
  const root = document.getElementById("app");
  clear(root);
  const main = h("main", { id: "main" });
  if (!match) {
    root.append(header(null, null), main);
    main.append(message("error", `No such page: ${path}`));
    document.title = "Not found - Lockgate";
    return;
  }
  const [m, render, section] = match;
  const args = m.slice(1).map((a) => (a === undefined ? a : decodeURIComponent(a)));
  const tenant = section ? args[0] : null;
  const banner = h("div", { id: "tenant-banner" });
  root.append(header(tenant, section), banner, main);
  let stateFromPage = false; // the page gives the event state: the info is not read
  const ctx = {
    tenant,
    args: section ? args.slice(1) : [],
    query: new URLSearchParams(location.search),
    main,
    // Append to the page (null and false are left out, arrays flattened).
    show: (...children) => append(main, children),
    signal: controller.signal,
    api: tenant ? tenantApi(tenant) : null,
    title(text) {
      document.title = `${text}${tenant ? ` - ${tenant}` : ""} - Lockgate`;
    },
    // Replace the query string (filters, paging) without a new history entry.
    setQuery(params) {
      const search = new URLSearchParams();
      for (const [k, v] of Object.entries(params)) if (v) search.set(k, v);
      const text = search.toString();
      history.replaceState(null, "", location.pathname + (text ? `?${text}` : ""));
      ctx.query = search;
    },
    navigate,
    // The tenant's event state (Zuul's "state" object, or null: normal).
    eventState(state) {
      stateFromPage = true;
      banner.replaceChildren(...[eventStateBanner(state)].filter(Boolean));
    },
  };
  try {
    // A read-protected tenant without a login: the login instead (login.js).
    if ((await loginGate(ctx)) || controller.signal.aborted) return;
    if (tenant) {
      markAdmin(tenant).catch(() => {});
      poll(
        async () => {
          if (stateFromPage) return;
          const info = await ctx.api.info(controller.signal);
          if (!stateFromPage) banner.replaceChildren(...[eventStateBanner(info.info.state)].filter(Boolean));
        },
        INFO_INTERVAL,
        controller.signal,
      );
    }
    await render(ctx);
  } catch (e) {
    if (e.name === "AbortError" || controller.signal.aborted) return;
    main.append(message("error", e.message || String(e)));
    console.error(e);
  }
}

export function navigate(path) {
  history.pushState(null, "", path);
  route();
}

document.addEventListener("click", (event) => {
  const a = event.target.closest("a[data-nav]");
  if (!a || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  event.preventDefault();
  if (url.pathname + url.search === location.pathname + location.search) return;
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener("popstate", route);
window.addEventListener(AUTH_EVENT, route); // logged in or out, or refused
route();
