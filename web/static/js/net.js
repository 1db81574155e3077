// Reads over HTTP that survive a moment without network.  A request can
// fail without the server ever seeing it: a proxy restarting, a laptop
// changing networks, or Chromium, which aborts every request in flight with
// ERR_NETWORK_CHANGED whenever any interface of the machine gains or loses
// an address (a VPN coming up, a container or a test cloud's node starting).
// A read is safe to repeat, so it is tried again a moment later; writes
// (admin actions) never come through here.  An answer from the server, even
// an error status, is an answer: only failures to get one are retried.

export const RETRY_DELAYS = [250, 1000];

// fetch(path, init) and its body as text: {response, text}.
export async function readText(path, init = {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(path, init);
      return { response, text: await response.text() };
    } catch (e) {
      if (e.name === "AbortError" || init.signal?.aborted || attempt >= RETRY_DELAYS.length) throw e;
      await pause(RETRY_DELAYS[attempt], init.signal);
    }
  }
}

function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(new DOMException("the page was left", "AbortError"));
      },
      { once: true },
    );
  });
}
