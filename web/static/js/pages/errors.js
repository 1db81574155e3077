// Configuration errors of the tenant: where (project, branch, file, line),
// what (the error as the loader wrote it), how bad (severity).

import { h, message } from "../dom.js";

export async function render(ctx) {
  ctx.title("Configuration errors");
  const errors = await ctx.api.configErrors({ limit: 1000 }, ctx.signal);
  ctx.show(h("h1", {}, "Configuration errors"));
  if (!errors.length) {
    ctx.show(message("info", "No configuration errors."));
    return;
  }
  ctx.show(
    h("p", { class: "muted" }, `${errors.length} error${errors.length > 1 ? "s" : ""}`),
    h(
      "ul",
      { class: "config-errors", id: "config-errors" },
      errors.map((e) => {
        const sc = e.source_context || {};
        const where = [sc.project, sc.branch && `@ ${sc.branch}`, sc.path && `: ${sc.path}`]
          .filter(Boolean)
          .join(" ");
        return h(
          "li",
          { class: `card ${e.severity === "warning" ? "warn" : "bad"}` },
          h(
            "div",
            { class: "where" },
            h("span", { class: `badge ${e.severity === "warning" ? "warn" : "bad"}` }, e.severity || "error"),
            " ",
            h("strong", {}, where),
            e.line ? h("span", {}, ` line ${e.line}`) : null,
            e.name ? h("span", { class: "muted" }, ` (${e.name})`) : null,
          ),
          e.short_error && e.short_error !== e.error ? h("p", {}, e.short_error) : null,
          h("pre", { class: "error-text" }, e.error || ""),
        );
      }),
    ),
  );
}
