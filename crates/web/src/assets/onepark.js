// onepark pages: live refresh, confirmations, language switch. Plain
// script, no framework: the pages work without it.
(function () {
  "use strict";
  var main = document.querySelector("main[data-live]");
  var state = document.getElementById("live-state");
  var zh = document.documentElement.lang !== "en";

  function busy() {
    var a = document.activeElement;
    return a && (a.tagName === "INPUT" || a.tagName === "SELECT" || a.tagName === "TEXTAREA");
  }

  // A form in the page holds something typed or chosen that was not sent:
  // a refresh would wipe it (focus alone misses a field left for another).
  function edited() {
    var fields = main.querySelectorAll("input, select, textarea");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden" || f.type === "submit" || f.type === "button") continue;
      if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) return true;
      } else if (f.tagName === "SELECT") {
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].selected !== f.options[j].defaultSelected) return true;
        }
      } else if (f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function refresh() {
    if (document.hidden || busy() || edited()) return;
    fetch(location.href, { headers: { "x-fragment": "1" }, credentials: "same-origin" })
      .then(function (r) {
        // Signed out meanwhile: the answer is the login page (a redirect), not a fragment.
        if (r.status === 401 || r.redirected) { location.reload(); throw new Error("login"); }
        if (!r.ok) throw new Error(r.status);
        // The server's clock (its Date header), not this device's, says when the figures are from.
        var at = new Date(r.headers.get("date") || Date.now());
        return r.text().then(function (html) { return [html, isNaN(at) ? new Date() : at]; });
      })
      .then(function (got) {
        main.innerHTML = got[0];
        if (state) state.textContent = (zh ? "已更新 " : "updated ") + got[1].toLocaleTimeString();
      })
      .catch(function () {
        if (state) state.textContent = zh ? "连接中断，重试中…" : "connection lost, retrying…";
      });
  }

  if (main) {
    var seconds = Math.max(1, parseInt(main.getAttribute("data-live"), 10) || 5);
    setInterval(refresh, seconds * 1000);
  }

  document.addEventListener("submit", function (e) {
    var message = e.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) e.preventDefault();
  });

  // A report's print button (the shift report): the page prints without its header and forms.
  document.addEventListener("click", function (e) {
    if (e.target.closest("button[data-print]")) window.print();
  });

  document.addEventListener("click", function (e) {
    var button = e.target.closest("button[data-lang]");
    if (!button) return;
    document.cookie = "lang=" + button.getAttribute("data-lang") + "; path=/; max-age=31536000; samesite=strict";
    location.reload();
  });
})();
