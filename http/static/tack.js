// tack's only script: copy buttons, the pins page refreshing itself
// while requests are queued or pinning, and the progress of uploads.
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
    if (fresh) {
      const focused = document.activeElement && live.contains(document.activeElement);
      if (!focused) live.replaceWith(fresh);
    }
  }
}

// The pins page marks #live with data-refresh (seconds) while something is
// moving: refresh it then.
function scheduleRefresh() {
  const live = document.getElementById("live");
  if (!live || !live.dataset.refresh) return;
  setTimeout(async () => {
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
