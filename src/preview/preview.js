// The preview page's script (never part of an email). Live reload: polls
// the server's version every 300 ms and reloads when a saved file changed
// it, keeping the scroll positions of the page and of each frame. Tabs and
// the dark toggle work without a reload.
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

  // Tabs and the dark toggle switch in place, so the frames keep their
  // documents and scroll; the address bar follows, so the reload after a
  // save (and a shared link) shows the same view.
  function setParam(name, value) {
    var url = new URL(location.href);
    if (value) { url.searchParams.set(name, value); } else { url.searchParams.delete(name); }
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }

  var tabs = Array.prototype.slice.call(document.querySelectorAll("[role=tab]"));
  function select(tab, focus) {
    tabs.forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      var panel = document.getElementById(t.getAttribute("aria-controls"));
      if (panel) { panel.hidden = !on; }
    });
    if (focus) { tab.focus(); }
    setParam("view", tab.dataset.tab === "email" ? null : tab.dataset.tab);
  }
  tabs.forEach(function (t, i) {
    t.addEventListener("click", function (e) { e.preventDefault(); select(t, false); });
    t.addEventListener("keydown", function (e) {
      var step = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (step) { e.preventDefault(); select(tabs[(i + step + tabs.length) % tabs.length], true); }
    });
  });

  var toggle = document.getElementById("dark-toggle");
  var box = document.getElementById("frames");
  if (toggle && box) {
    toggle.addEventListener("click", function (e) {
      e.preventDefault();
      var dark = toggle.getAttribute("aria-pressed") !== "true";
      toggle.setAttribute("aria-pressed", dark ? "true" : "false");
      box.dataset.dark = dark ? "true" : "false";
      frames.forEach(function (f) {
        try { saved[f.id] = f.contentWindow.scrollY; } catch (err) { /* not loaded */ }
        f.src = dark ? f.dataset.dark : f.dataset.light;
      });
      setParam("dark", dark ? "1" : null);
    });
  }

  // The picker keeps the tab and the dark toggle as they are now.
  var form = document.getElementById("reader");
  if (form) {
    form.addEventListener("submit", function () {
      var params = new URL(location.href).searchParams;
      ["view", "dark"].forEach(function (name) {
        var input = form.querySelector("input[type=hidden][name=" + name + "]");
        var value = params.get(name);
        if (value && !input) {
          input = document.createElement("input");
          input.type = "hidden";
          input.name = name;
          form.appendChild(input);
        }
        if (input && value) { input.value = value; } else if (input) { input.remove(); }
      });
    });
  }

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
