// tack's only script: copy buttons, the pins page refreshing itself
// while requests are queued or pinning, and the progress of a CAR upload.
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

// The pins page marks #live with data-refresh (seconds) while something is
// moving; fetch the page again and swap #live in place, so that the
// filters keep their focus and the scroll position stays.
function scheduleRefresh() {
  const live = document.getElementById("live");
  if (!live || !live.dataset.refresh) return;
  setTimeout(async () => {
    try {
      const res = await fetch(location.href, { credentials: "same-origin" });
      if (res.ok && res.url === location.href) {
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const fresh = doc.getElementById("live");
        if (fresh) {
          const focused = document.activeElement && live.contains(document.activeElement);
          if (!focused) live.replaceWith(fresh);
        }
      }
    } catch (e) { /* offline for a moment: try again */ }
    scheduleRefresh();
  }, Number(live.dataset.refresh) * 1000);
}
scheduleRefresh();

// The Upload a CAR form: sent with XMLHttpRequest, whose upload events
// drive the progress bar; the answer is the API's JSON (Accept). Without
// this script the form posts as it is and the server answers with a page.
const carForm = document.getElementById("car-form");
if (carForm) {
  carForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const progress = document.getElementById("car-progress");
    const status = document.getElementById("car-status");
    const button = carForm.querySelector("button[type=submit]");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", carForm.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      progress.max = e.total;
      progress.value = e.loaded;
      status.textContent = e.loaded < e.total
        ? `Sending: ${Math.floor((100 * e.loaded) / e.total)}%`
        : "Sent; checking the blocks…";
    });
    xhr.addEventListener("load", () => {
      button.disabled = false;
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 200 && body && body.results) {
        status.textContent = "Uploaded: " + body.results.map((r) => `${r.pin.cid} ${r.status}`).join(", ");
        status.dataset.done = "1";
        setTimeout(() => location.reload(), 1500);
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
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    delete status.dataset.done;
    delete status.dataset.failed;
    status.textContent = "Sending…";
    xhr.send(new FormData(carForm));
  });
}
