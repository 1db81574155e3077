// Logging in to read a read-protected tenant (one with access-rules) or a
// service whose api-root has access-rules -- and, on any tenant, to act as
// its admin where its admin-rules allow (admin.js: the actions appear once
// the tenant's authorizations say so).  "Log in" in the header opens the
// same panel on every page.
//
// The token is a bearer token (a JSON Web Token) pasted by the user: one
// from their identity provider, or one an operator made with `lockgate
// create-auth-token`.  It is kept in this browser (localStorage) until it
// expires or the user forgets it; api.js sends it with every API call, the
// console stream in its first message ("token", as Zuul's), and a cookie
// limited to /logs/ carries it for log links opened in a new tab.
//
// Before a page is drawn, loginGate() asks the tenant's info (or the
// service's, for the tenants page) whether reading needs a login; without a
// token the login panel is shown instead of a page that would fail.  A 401
// or 403 answer to any later call (an expired token, one that satisfies no
// access-rule) is noted by api.js (noteAuthFailure) and brings the panel
// back with the server's reason.

import { h, message } from "./dom.js";
import { readText } from "./net.js";

const TOKEN_KEY = "lockgate.token";
export const TOKEN_COOKIE = "lockgate_token";
export const AUTH_EVENT = "lockgate:auth"; // app.js draws the page again on it
const INFO_TTL = 60_000;

let failure = null; // {scope, status, message, realm, token} of the last refusal
const infos = new Map(); // scope -> {at, promise}

function fire() {
  window.dispatchEvent(new Event(AUTH_EVENT));
}

// A token's claims (not verified: for showing who and until when).
export function claims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
  } catch (e) {
    return null;
  }
}

function expired(token) {
  const exp = claims(token)?.exp;
  return typeof exp === "number" && exp * 1000 <= Date.now();
}

function setCookie(token, maxAge) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  const age = maxAge === undefined ? "" : `; Max-Age=${maxAge}`;
  document.cookie = `${TOKEN_COOKIE}=${token}; Path=/logs/; SameSite=Strict${age}${secure}`;
}

export function storedToken() {
  let token = null;
  try {
    token = localStorage.getItem(TOKEN_KEY);
  } catch (e) {
    return null;
  }
  if (token && expired(token)) {
    forgetToken(false);
    return null;
  }
  return token;
}

export function storeToken(token) {
  localStorage.setItem(TOKEN_KEY, token);
  const exp = claims(token)?.exp;
  setCookie(token, typeof exp === "number" ? Math.max(0, Math.floor(exp - Date.now() / 1000)) : undefined);
  failure = null;
  infos.clear();
  fire();
}

export function forgetToken(redraw = true) {
  try {
    localStorage.removeItem(TOKEN_KEY);
  } catch (e) {
    // storage refused: nothing was kept
  }
  setCookie("", 0);
  failure = null;
  if (redraw) fire();
}

// Whether a path is this site's (the token goes nowhere else).
export function ownPath(path) {
  try {
    return new URL(path, location.href).origin === location.origin;
  } catch (e) {
    return false;
  }
}

// Which scope an API path reads: a tenant's name, "" for the service's
// global endpoints, null for paths that say neither (logs).
export function scopeOf(path) {
  const url = new URL(path, location.href);
  if (url.origin !== location.origin) return null;
  const m = url.pathname.match(/^\/api\/tenant\/([^/]+)\//);
  if (m) return decodeURIComponent(m[1]);
  return url.pathname.startsWith("/api") ? "" : null;
}

// Called by api.js for a 401 or 403 that carries an auth error.
export function noteAuthFailure(path, status, body) {
  const scope = scopeOf(path);
  if (scope === null) return;
  failure = {
    scope,
    status,
    message: body.description || body.error || `${status}`,
    realm: body.realm || null,
    token: storedToken(),
  };
  fire();
}

// The auth capability of a tenant's info ("" : the service's); the info
// endpoints never need a token.
async function authInfo(scope) {
  const hit = infos.get(scope);
  if (hit && Date.now() - hit.at < INFO_TTL) return hit.promise;
  const path = scope ? `/api/tenant/${encodeURIComponent(scope)}/info` : "/api/info";
  const promise = readText(path, { headers: { Accept: "application/json" } }).then(({ response, text }) => {
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return JSON.parse(text).info.capabilities.auth;
  });
  infos.set(scope, { at: Date.now(), promise });
  promise.catch(() => infos.delete(scope));
  return promise;
}

// Show the login panel instead of the page when reading needs a token
// that is not there (or that was just refused); true if it did.
export async function loginGate(ctx) {
  const scope = ctx.tenant || "";
  const token = storedToken();
  if (failure && failure.scope === scope && failure.token === token) {
    ctx.main.replaceChildren(loginPanel(ctx, failure));
    return true;
  }
  if (token) return false;
  let auth;
  try {
    auth = await authInfo(scope);
  } catch (e) {
    return false; // the page will say what is wrong
  }
  if (!auth.read_protected) return false;
  const what = ctx.tenant ? `Tenant ${ctx.tenant}` : "This service";
  ctx.main.replaceChildren(
    loginPanel(ctx, {
      status: 401,
      message: `${what} is read-protected: reading it needs a login.`,
      realm: auth.default_realm,
      realms: auth.realms,
    }),
  );
  return true;
}

function realmHelp(realm, realms) {
  const info = realms && realm ? realms[realm] : null;
  const authority = info && info.authority;
  return h(
    "p",
    { class: "muted" },
    "Paste a bearer token (a JSON Web Token)",
    realm ? [" of realm ", h("code", {}, realm)] : null,
    authority ? [" issued by ", h("code", {}, authority)] : null,
    ": one from your identity provider, or one an operator made with ",
    h("code", {}, "lockgate create-auth-token"),
    ". It is kept in this browser until it expires or you forget it.",
  );
}

export function loginPanel(ctx, why) {
  const token = storedToken();
  const who = token ? claims(token) : null;
  const field = h("textarea", {
    id: "login-token",
    rows: 4,
    spellcheck: "false",
    autocomplete: "off",
    placeholder: "eyJhbGciOi...",
    "aria-label": "bearer token",
  });
  const problem = h("div", { id: "login-problem", role: "alert" });
  const submit = (event) => {
    event.preventDefault();
    const text = field.value.trim().replace(/^Bearer\s+/i, "");
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(text) || !claims(text)) {
      problem.replaceChildren(message("error", "That is not a JSON Web Token (three base64url parts separated by dots)."));
      return;
    }
    if (expired(text)) {
      problem.replaceChildren(message("error", "That token has expired: get a fresh one."));
      return;
    }
    storeToken(text);
  };
  const refused = why.status === 403;
  return h(
    "section",
    { class: "login", id: "login" },
    h("h1", {}, refused ? "Not allowed" : "Login required"),
    message(refused ? "warn" : "info", why.message),
    who
      ? h(
          "p",
          {},
          "Stored token: ",
          h("strong", {}, who.name || who.preferred_username || who.sub || "?"),
          who.exp ? ` (until ${new Date(who.exp * 1000).toLocaleString()})` : "",
          ". ",
          h("button", { type: "button", id: "login-forget", onclick: () => forgetToken() }, "Forget it"),
        )
      : null,
    realmHelp(why.realm, why.realms),
    h(
      "form",
      { onsubmit: submit },
      field,
      h("div", {}, h("button", { type: "submit", id: "login-submit" }, token ? "Use this token instead" : "Use this token")),
    ),
    problem,
    why.cancel
      ? h("p", {}, h("button", { type: "button", id: "login-cancel", onclick: why.cancel }, "Back to the page"))
      : null,
  );
}

// The header's corner: who is logged in, or a way to log in (on any page,
// read-protected or not; `redraw` draws the page again for "Back").
export function authControl(main, redraw = null) {
  const token = storedToken();
  if (!token) {
    return h(
      "button",
      {
        type: "button",
        class: "auth-control",
        id: "login-open",
        onclick: () =>
          main().replaceChildren(
            loginPanel(null, {
              status: 401,
              message:
                "Log in to read read-protected tenants, and to act as an admin (dequeue, promote, " +
                "re-enqueue, autoholds) on the tenants whose admin-rules let you.",
              cancel: redraw,
            }),
          ),
      },
      "Log in",
    );
  }
  const who = claims(token) || {};
  return h(
    "span",
    { class: "auth-control", id: "login-user" },
    who.name || who.preferred_username || who.sub || "logged in",
    " ",
    h("button", { type: "button", id: "logout", onclick: () => forgetToken() }, "Log out"),
  );
}
