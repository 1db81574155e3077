// The live console of a running build, over the console-stream websocket
// (Zuul's protocol: send {"uuid", "logfile": "console.log"}, receive text).
// liveConsole() is used by this page (/t/<t>/stream/<uuid>, where the status
// page's running jobs lead) and by the build page while the build runs.

import { h, link, message } from "../dom.js";
import { storedToken } from "../login.js";

const BAD_LINE = /\| (ERROR|FAILED|UNREACHABLE|fatal)\b/;

// A console element following build `uuid`; `onEnd(code, reason)` runs when
// the stream closes.  Closed when ctx.signal aborts (the user left).
export function liveConsole(ctx, uuid, onEnd) {
  const out = h("pre", { class: "console", id: "console", "aria-live": "off" });
  const follow = h("input", { type: "checkbox", checked: true, id: "console-follow" });
  const state = h("span", { class: "stream-state muted", id: "console-state" }, "connecting…");
  const box = h(
    "div",
    { class: "console-box" },
    h("div", { class: "toolbar" }, state, h("label", {}, follow, " follow the end")),
    out,
  );
  let partial = "";
  const addLines = (text) => {
    const lines = (partial + text).split("\n");
    partial = lines.pop();
    const frag = document.createDocumentFragment();
    for (const line of lines) {
      frag.append(h("span", { class: BAD_LINE.test(line) ? "line bad" : "line" }, line + "\n"));
    }
    out.append(frag);
    if (follow.checked) out.lastElementChild?.scrollIntoView({ block: "end" });
  };
  let ws;
  try {
    ws = new WebSocket(ctx.api.consoleStreamUrl());
  } catch (e) {
    state.textContent = `cannot open the console stream: ${e.message}`;
    return box;
  }
  ws.addEventListener("open", () => {
    state.textContent = "streaming live";
    state.className = "stream-state running";
    // A read-protected tenant: the stored login goes in the first message.
    ws.send(JSON.stringify({ uuid, logfile: "console.log", token: storedToken() || undefined }));
  });
  ws.addEventListener("message", (event) => {
    if (typeof event.data === "string") addLines(event.data);
  });
  ws.addEventListener("close", (event) => {
    if (partial) addLines("\n");
    const ended = event.code === 1000;
    state.textContent = event.reason || (ended ? "the stream ended" : `the stream closed (${event.code})`);
    state.className = `stream-state ${ended ? "ok" : "bad"}`;
    state.dataset.code = String(event.code);
    if (onEnd && !ctx.signal.aborted) onEnd(event.code, event.reason);
  });
  ctx.signal.addEventListener("abort", () => ws.close(1000, "page left"));
  return box;
}

export async function render(ctx) {
  const uuid = ctx.args[0];
  const base = `/t/${encodeURIComponent(ctx.tenant)}`;
  ctx.title(`Console of ${uuid.slice(0, 7)}`);
  const after = h("div", { id: "after-stream" });
  ctx.show(
    h("h1", {}, "Live console"),
    h(
      "p",
      {},
      "Build ",
      link(`${base}/build/${encodeURIComponent(uuid)}`, uuid),
      " · ",
      link(`${base}/status`, "status"),
    ),
    after,
    liveConsole(ctx, uuid, (code) => {
      after.append(
        message(
          code === 1000 ? "info" : "warn",
          code === 1000 ? "The build has ended: " : "No live console: ",
          link(`${base}/build/${encodeURIComponent(uuid)}`, "its build page"),
          " has the result, the tasks and the logs.",
        ),
      );
    }),
  );
}
