// The tenants (the front page): each with its project count and queue length.

import { getJSON } from "../api.js";
import { h, link, message, table } from "../dom.js";

export async function render(ctx) {
  ctx.title("Tenants");
  ctx.show(h("h1", {}, "Tenants"));
  const tenants = await getJSON("/api/tenants", ctx.signal);
  if (!tenants.length) {
    ctx.show(message("info", "No tenant is loaded yet."));
    return;
  }
  if (tenants.length === 1) {
    // One tenant: its status is what people come for.
    ctx.show(
      h("p", {}, "One tenant: ", link(`/t/${encodeURIComponent(tenants[0].name)}/status`, tenants[0].name)),
    );
  }
  const rows = tenants.map((t) => {
    const base = `/t/${encodeURIComponent(t.name)}`;
    return h(
      "tr",
      {},
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
      ),
    );
  });
  ctx.show(table(["Tenant", "Projects", "Queued", ""], rows, { class: "list" }));
}
