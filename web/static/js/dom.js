// Small DOM and formatting helpers shared by every page of the dashboard.
//
// Everything the dashboard shows goes through h() (text nodes, never HTML
// strings), so data from the API cannot inject markup; links to URLs that
// come from data go through safeUrl().

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

// A URL from data, fit for href: http(s) or a path on this site; else null.
export function safeUrl(url) {
  if (typeof url !== "string" || !url) return null;
  if (/^https?:\/\//i.test(url)) return url;
  if (url.startsWith("/") && !url.startsWith("//")) return url;
  return null;
}

// An external or data link: a plain <a> (no client-side routing).
export function extLink(url, ...children) {
  const href = safeUrl(url);
  if (!href) return h("span", {}, ...children);
  return h("a", { href, rel: "noopener" }, ...children);
}

// A link inside the dashboard: navigates without reloading (see app.js).
export function link(path, ...children) {
  return h("a", { href: path, "data-nav": "" }, ...children);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// API times are UTC without a zone ("2024-01-31T12:00:00"); status times
// are epoch seconds or milliseconds.
export function parseTime(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return new Date(value > 1e12 ? value : value * 1000);
  const text = /[zZ]|[+-]\d\d:?\d\d$/.test(value) ? value : value + "Z";
  const date = new Date(text);
  return isNaN(date) ? null : date;
}

const pad = (n) => String(n).padStart(2, "0");

export function formatTime(value) {
  const d = parseTime(value);
  if (!d) return "";
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

export function timeCell(value) {
  const d = parseTime(value);
  if (!d) return h("span", {}, "");
  return h("time", { datetime: d.toISOString(), title: d.toISOString() }, formatTime(value));
}

// Seconds as "1h 02m", "3m 05s", "42s".
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || isNaN(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  return `${s}s`;
}

export function ago(value) {
  const d = parseTime(value);
  if (!d) return "";
  return formatDuration((Date.now() - d.getTime()) / 1000) + " ago";
}

// Result -> colour class (the same words Zuul uses).
const RESULT_CLASSES = {
  SUCCESS: "ok",
  FAILURE: "bad",
  POST_FAILURE: "bad",
  TIMED_OUT: "bad",
  RETRY_LIMIT: "bad",
  NODE_FAILURE: "bad",
  ERROR: "bad",
  MERGE_CONFLICT: "bad",
  MERGE_FAILURE: "bad",
  CONFIG_ERROR: "bad",
  DEQUEUED: "muted",
  SKIPPED: "muted",
  CANCELED: "muted",
  ABORTED: "muted",
  RETRY: "warn",
  LOST: "warn",
};

export function resultClass(result) {
  if (!result) return "running";
  return RESULT_CLASSES[result] || "warn";
}

export function resultBadge(result, text) {
  return h("span", { class: `badge ${resultClass(result)}` }, text || result || "running");
}

export function shortSha(sha) {
  return sha ? String(sha).slice(0, 10) : "";
}

export function message(kind, ...children) {
  return h("div", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}

export function table(headers, rows, attrs = {}) {
  return h(
    "table",
    attrs,
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", {}, name)))),
    h("tbody", {}, rows),
  );
}

// A definition list from [label, value] pairs (null values left out).
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs
      .filter(([, value]) => value !== null && value !== undefined && value !== "")
      .map(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]),
  );
}

export function pre(text, attrs = {}) {
  return h("pre", attrs, text === undefined || text === null ? "" : String(text));
}

export function yamlish(value) {
  return JSON.stringify(value, null, 2);
}
