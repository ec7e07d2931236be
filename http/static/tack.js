// tack's only script: copy buttons, the pins page and a request's page
// refreshing themselves while requests are queued or pinning, the progress
// of uploads, and the pins page's forms sent without a reload.
// Every page works without it.
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  const done = () => {
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  };
  // Plain http on another host has no clipboard API, and a browser may
  // refuse it: then select the text and copy the old way.
  const fallback = () => {
    field.select();
    if (document.execCommand("copy")) done();
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, fallback);
  } else {
    fallback();
  }
});

// refreshLive fetches the page again and swaps #live in place, so that
// the filters keep their focus and the scroll position stays.
async function refreshLive() {
  const live = document.getElementById("live");
  if (!live) return;
  const res = await fetch(location.href, { credentials: "same-origin" });
  if (res.ok && res.url === location.href) {
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = doc.getElementById("live");
    const now = document.getElementById("live");
    if (fresh && now) {
      const focused = document.activeElement && now.contains(document.activeElement);
      if (!focused) now.replaceWith(fresh);
    }
  }
}

// The pins page and a request's page mark #live with data-refresh
// (seconds) while something is moving: refresh it then.
let refreshTimer;
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const live = document.getElementById("live");
  if (!live || !live.dataset.refresh) return;
  refreshTimer = setTimeout(async () => {
    try {
      await refreshLive();
    } catch (e) { /* offline for a moment: try again */ }
    scheduleRefresh();
  }, Number(live.dataset.refresh) * 1000);
}
scheduleRefresh();

// The upload forms (Upload a CAR, Upload files): sent with
// XMLHttpRequest, whose upload events drive the progress bar; the answer
// is the API's JSON (Accept), and the list of pins is refreshed in place.
// Without this script the forms post as they are and the server answers
// with a page.
for (const form of document.querySelectorAll("form.upload")) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const progress = form.querySelector("progress");
    const status = form.querySelector("[role=status]");
    const button = form.querySelector("button[type=submit]");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      progress.max = e.total;
      progress.value = e.loaded;
      status.textContent = e.loaded < e.total
        ? `Sending: ${Math.floor((100 * e.loaded) / e.total)}%`
        : form.dataset.sent;
    });
    xhr.addEventListener("load", () => {
      button.disabled = false;
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 200 && body && body.results) {
        status.textContent = "Uploaded: " + body.results.map((r) => `${r.pin.cid} ${r.status}`).join(", ");
        status.dataset.done = "1";
        refreshLive().catch(() => {});
      } else {
        status.textContent = "Upload failed: " + (body && body.error ? body.error.details : `HTTP ${xhr.status}`);
        status.dataset.failed = "1";
      }
    });
    xhr.addEventListener("error", () => {
      button.disabled = false;
      status.textContent = "Upload failed: the connection broke.";
      status.dataset.failed = "1";
    });
    // A folder's files go with their path in it (webkitRelativePath) as
    // their filename, which a server needs to rebuild the folder.
    const data = new FormData();
    for (const [key, value] of new FormData(form)) {
      if (value instanceof File) {
        if (value.name === "" && value.size === 0) continue; // an input left empty
        data.append(key, value, value.webkitRelativePath || value.name);
      } else {
        data.append(key, value);
      }
    }
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    delete status.dataset.done;
    delete status.dataset.failed;
    status.textContent = "Sending…";
    xhr.send(data);
  });
}

// The pins page's forms (Pin a CID, each row's Replace and Remove) carry
// data-pin: post them with fetch and put the page the server answers
// with, after its redirect, in place of this one's live part and its
// message, without a reload. Remove asks first (data-confirm), as the
// page without this script does on a page of its own. Where the answer is
// another page, go there.
function flash(doc) {
  const main = document.querySelector("main");
  main.querySelectorAll(":scope > p.notice, :scope > p.error").forEach((p) => p.remove());
  const fresh = doc.querySelectorAll("main > p.notice, main > p.error");
  for (let i = fresh.length - 1; i >= 0; i--) main.prepend(document.importNode(fresh[i], true));
}

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form[data-pin]");
  if (!form) return;
  event.preventDefault();
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
  const body = new URLSearchParams(new FormData(form));
  if (form.dataset.confirm) body.set("confirm", "yes");
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const res = await fetch(form.action, { method: "POST", body, credentials: "same-origin" });
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = doc.getElementById("live");
    const live = document.getElementById("live");
    if (new URL(res.url).pathname !== location.pathname || !fresh || !live) {
      location.assign(res.url);
      return;
    }
    live.replaceWith(fresh);
    flash(doc);
    if (res.ok && form.id === "pin-form") form.reset();
    if (res.redirected) history.replaceState(null, "", res.url);
    scheduleRefresh();
  } catch (e) {
    const p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = "The form could not be sent: the connection broke. Try again.";
    flash(new DOMParser().parseFromString("<main></main>", "text/html"));
    document.querySelector("main").prepend(p);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
});
