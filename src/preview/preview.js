// Live reload for the preview page (never part of an email). Polls the
// server's version every 300 ms and reloads when a saved file changed it,
// keeping the scroll positions of the page and of each frame.
(function () {
  "use strict";
  var version = document.body.dataset.version;
  var status = document.getElementById("status");
  var key = "almanac-preview-scroll:" + location.pathname;
  var frames = Array.prototype.slice.call(document.querySelectorAll("iframe.email"));

  var saved = {};
  try { saved = JSON.parse(sessionStorage.getItem(key) || "{}"); } catch (e) { saved = {}; }
  sessionStorage.removeItem(key);
  if (saved.page) { window.scrollTo(0, saved.page); }

  function prepare(frame) {
    var doc = frame.contentDocument;
    if (!doc || !doc.body || doc.almanacPrepared) { return; }
    doc.almanacPrepared = true;
    if (saved[frame.id]) { frame.contentWindow.scrollTo(0, saved[frame.id]); }
    // Links open in a new tab: most sites refuse to be shown in a frame.
    doc.addEventListener("click", function (e) {
      var a = e.target.closest && e.target.closest("a[href]");
      if (a) { e.preventDefault(); window.open(a.href, "_blank", "noopener"); }
    });
  }
  frames.forEach(function (f) {
    f.addEventListener("load", function () { prepare(f); });
    if (f.contentDocument && f.contentDocument.readyState === "complete" &&
        f.contentDocument.URL !== "about:blank") { prepare(f); }
  });

  function save() {
    var s = { page: window.scrollY };
    frames.forEach(function (f) {
      try { s[f.id] = f.contentWindow.scrollY; } catch (e) { /* not loaded */ }
    });
    sessionStorage.setItem(key, JSON.stringify(s));
  }

  function poll() {
    fetch("/version", { cache: "no-store" })
      .then(function (r) { return r.text(); })
      .then(function (v) {
        status.textContent = "live";
        status.className = "status live";
        if (v.trim() !== version) { save(); location.reload(); return; }
        setTimeout(poll, 300);
      })
      .catch(function () {
        status.textContent = "server stopped, retrying";
        status.className = "status down";
        setTimeout(poll, 1000);
      });
  }
  status.className = "status live";
  setTimeout(poll, 300);
})();
