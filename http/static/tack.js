// tack's only script: copy buttons, and the pins page refreshing itself
// while requests are queued or pinning. Every page works without it.
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
