// The tenants (the front page): each with its project count and queue
// length, live (polled as the other pages are: live.js).

import { getJSON } from "../api.js";
import { h, link, message, table } from "../dom.js";
import { liveView } from "../live.js";

export async function render(ctx) {
  ctx.title("Tenants");
  liveView(ctx, {
    heading: "Tenants",
    interval: 5000,
    load: (signal) => getJSON("/api/tenants", signal),
    draw(tenants, { body }) {
      body.replaceChildren(...[tenantsView(tenants)].flat().filter(Boolean));
    },
  });
}

function tenantsView(tenants) {
  if (!tenants.length) return message("info", "No tenant is loaded yet.");
  // One tenant: its status is what people come for.
  const only =
    tenants.length === 1
      ? h("p", {}, "One tenant: ", link(`/t/${encodeURIComponent(tenants[0].name)}/status`, tenants[0].name))
      : null;
  const rows = tenants.map((t) => {
    const base = `/t/${encodeURIComponent(t.name)}`;
    return h(
      "tr",
      { dataset: { tenant: t.name } },
      h("td", {}, link(`${base}/status`, t.name)),
      h("td", { class: "num" }, t.projects ?? ""),
      h("td", { class: "num" }, t.queue ?? ""),
      h(
        "td",
        {},
        link(`${base}/projects`, "projects"),
        " · ",
        link(`${base}/jobs`, "jobs"),
        " · ",
        link(`${base}/builds`, "builds"),
        " · ",
        link(`${base}/buildsets`, "buildsets"),
        " · ",
        link(`${base}/nodes`, "nodes"),
        " · ",
        link(`${base}/autoholds`, "autoholds"),
      ),
    );
  });
  return [only, table(["Tenant", "Projects", "Queued", ""], rows, { class: "list", dataset: { tenants: "" } })];
}
