// The dashboard's loader: imports app.js, and with it every page's module.
// One of those scripts failing to arrive (a network hiccup: see net.js) fails
// the whole module graph, and the page would stay empty.  Instead the page
// is loaded again a moment later, a few times, and then says what happened.
// (A failed module stays failed in its document: only a new load retries it.)

const KEY = "lockgate.boot-reloads";
const MAX_RELOADS = 3;

import("./app.js").then(
  () => sessionStorage.removeItem(KEY),
  (e) => {
    const reloads = Number(sessionStorage.getItem(KEY) || 0);
    if (reloads < MAX_RELOADS) {
      sessionStorage.setItem(KEY, String(reloads + 1));
      setTimeout(() => location.reload(), 250 * (reloads + 1));
      return;
    }
    sessionStorage.removeItem(KEY);
    const app = document.getElementById("app");
    const box = document.createElement("div");
    box.className = "message error";
    box.setAttribute("role", "alert");
    box.textContent = `The dashboard could not load its scripts (${e.message}). Reload the page to try again.`;
    app.replaceChildren(box);
  },
);
