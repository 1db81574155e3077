// The live console of a running build, over the console-stream websocket
// (Zuul's protocol: send {"uuid", "logfile": "console.log"}, receive text).
// liveConsole() is used by this page (/t/<t>/stream/<uuid>, where the status
// page's running jobs lead) and by the build page while the build runs.

import { h, link, message } from "../dom.js";
import { storedToken } from "../login.js";

const BAD_LINE = /\| (ERROR|FAILED|UNREACHABLE|fatal)\b/;

// A websocket that ended without a close frame -- the network went away
// (Chromium drops every connection when an interface of the machine gains or
// loses an address: see net.js), or it could not be opened -- reports 1006.
// Only then is the stream opened again, after each of these delays in turn;
// every close the web chooses is final: 1000 the build ended, 4000 a wrong
// or unauthorised request, 4011 nothing to stream (web/console_stream.py).
export const RECONNECT_DELAYS = [500, 1000, 2000];
const ABNORMAL = 1006;

// A console element following build `uuid`; `onEnd(code, reason)` runs when
// the stream closes for good.  Closed when ctx.signal aborts (the user left).
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
  const finish = (code, reason) => {
    if (partial) addLines("\n");
    const ended = code === 1000;
    state.textContent = reason || (ended ? "the stream ended" : `the stream closed (${code})`);
    state.className = `stream-state ${ended ? "ok" : "bad"}`;
    state.dataset.code = String(code);
    if (onEnd) onEnd(code, reason);
  };
  let ws = null;
  let timer = null;
  let retries = 0; // connections opened again since the stream last sent something
  let reconnects = 0;
  const connect = () => {
    timer = null;
    let socket;
    try {
      socket = ws = new WebSocket(ctx.api.consoleStreamUrl());
    } catch (e) {
      state.textContent = `cannot open the console stream: ${e.message}`;
      return;
    }
    let received = false;
    socket.addEventListener("open", () => {
      state.textContent = "streaming live";
      state.className = "stream-state running";
      // A read-protected tenant: the stored login goes in the first message.
      socket.send(JSON.stringify({ uuid, logfile: "console.log", token: storedToken() || undefined }));
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data !== "string") return;
      if (!received) {
        // Every connection is sent the console from its first line: what an
        // earlier one showed is drawn again, not repeated.
        received = true;
        retries = 0;
        out.replaceChildren();
        partial = "";
      }
      addLines(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (ctx.signal.aborted) return;
      if (event.code !== ABNORMAL) return finish(event.code, event.reason);
      const tries = RECONNECT_DELAYS.length;
      if (retries >= tries) {
        return finish(event.code, `the connection was lost (1006) and ${tries} tries to open it again failed`);
      }
      const delay = RECONNECT_DELAYS[retries++];
      state.textContent = `the connection was lost; connecting again in ${delay / 1000} s (${retries} of ${tries})…`;
      state.className = "stream-state muted";
      state.dataset.reconnects = String(++reconnects);
      timer = setTimeout(connect, delay);
    });
  };
  connect();
  ctx.signal.addEventListener("abort", () => {
    if (timer !== null) clearTimeout(timer);
    ws?.close(1000, "page left");
  });
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
