// The REST API as the dashboard uses it: Zuul's paths, JSON answers, and
// errors in Zuul's shape ({"error", "description"}) turned into exceptions
// whose message is the description.  A stored login (login.js) goes with
// every call to this site; a refusal of it (401/403) brings the login back.

import { noteAuthFailure, ownPath, storedToken } from "./login.js";
import { readText } from "./net.js";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The stored login's header (login.js), for this site's own paths only.
function authHeaders(path) {
  const token = storedToken();
  return token && ownPath(path) ? { Authorization: `Bearer ${token}` } : {};
}

export async function getJSON(path, signal) {
  let response;
  let text;
  try {
    ({ response, text } = await readText(path, {
      signal,
      headers: { Accept: "application/json", ...authHeaders(path) },
    }));
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, `cannot reach the web service (${e.message})`);
  }
  let body = null;
  try {
    body = JSON.parse(text);
  } catch (e) {
    body = null;
  }
  const refused = response.status === 401 || response.status === 403;
  if (refused && body && typeof body === "object" && "realm" in body) {
    noteAuthFailure(path, response.status, body); // the login panel takes over
  }
  if (!response.ok) {
    const described =
      (body && (body.description || (typeof body.error === "string" && body.error))) ||
      `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, described);
  }
  return body;
}

export async function getText(path, signal) {
  const { response, text } = await readText(path, { signal, headers: authHeaders(path) });
  if (!response.ok) throw new ApiError(response.status, `${path}: ${response.status}`);
  return text;
}

// Project and job names may hold "/": each part is encoded, the slashes kept
// (Zuul's routes take the rest of the path as the name).
export function pathName(name) {
  return String(name).split("/").map(encodeURIComponent).join("/");
}

export function tenantApi(tenant) {
  const base = `/api/tenant/${encodeURIComponent(tenant)}`;
  const q = (params) => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params || {})) {
      if (value === null || value === undefined || value === "") continue;
      for (const v of Array.isArray(value) ? value : [value]) search.append(key, v);
    }
    const text = search.toString();
    return text ? `?${text}` : "";
  };
  return {
    base,
    info: (s) => getJSON(`${base}/info`, s),
    status: (s) => getJSON(`${base}/status`, s),
    builds: (params, s) => getJSON(`${base}/builds${q(params)}`, s),
    build: (uuid, s) => getJSON(`${base}/build/${encodeURIComponent(uuid)}`, s),
    buildsets: (params, s) => getJSON(`${base}/buildsets${q(params)}`, s),
    buildset: (uuid, s) => getJSON(`${base}/buildset/${encodeURIComponent(uuid)}`, s),
    jobs: (s) => getJSON(`${base}/jobs`, s),
    job: (name, s) => getJSON(`${base}/job/${encodeURIComponent(name)}`, s),
    projects: (s) => getJSON(`${base}/projects`, s),
    project: (name, s) => getJSON(`${base}/project/${pathName(name)}`, s),
    pipelines: (s) => getJSON(`${base}/pipelines`, s),
    configErrors: (params, s) => getJSON(`${base}/config-errors${q(params)}`, s),
    freezeJobs: (pipeline, project, branch, s) =>
      getJSON(
        `${base}/pipeline/${encodeURIComponent(pipeline)}/project/${pathName(project)}` +
          `/branch/${pathName(branch)}/freeze-jobs`,
        s,
      ),
    freezeJob: (pipeline, project, branch, job, s) =>
      getJSON(
        `${base}/pipeline/${encodeURIComponent(pipeline)}/project/${pathName(project)}` +
          `/branch/${pathName(branch)}/freeze-job/${encodeURIComponent(job)}`,
        s,
      ),
    consoleStreamUrl: () => {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      return `${scheme}//${location.host}${base}/console-stream`;
    },
  };
}

// Call fn() now and every `interval` ms until `signal` aborts; a failing
// call is reported to onError and tried again at the next tick.  Waits
// while the page is hidden (a background tab costs the server nothing).
export function poll(fn, interval, signal, onError) {
  let timer = null;
  const tick = async () => {
    if (signal.aborted) return;
    if (document.visibilityState === "hidden") {
      timer = setTimeout(tick, interval);
      return;
    }
    try {
      await fn();
    } catch (e) {
      if (e.name !== "AbortError" && onError) onError(e);
    }
    if (!signal.aborted) timer = setTimeout(tick, interval);
  };
  const wake = () => {
    if (document.visibilityState === "visible" && timer !== null) {
      clearTimeout(timer);
      tick();
    }
  };
  document.addEventListener("visibilitychange", wake);
  signal.addEventListener("abort", () => {
    clearTimeout(timer);
    document.removeEventListener("visibilitychange", wake);
  });
  tick();
}
