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

  function refresh() {
    if (document.hidden || busy()) return;
    fetch(location.href, { headers: { "x-fragment": "1" }, credentials: "same-origin" })
      .then(function (r) {
        // Signed out meanwhile: the answer is the login page (a redirect), not a fragment.
        if (r.status === 401 || r.redirected) { location.reload(); throw new Error("login"); }
        if (!r.ok) throw new Error(r.status);
        return r.text();
      })
      .then(function (html) {
        main.innerHTML = html;
        if (state) state.textContent = (zh ? "已更新 " : "updated ") + new Date().toLocaleTimeString();
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

  document.addEventListener("click", function (e) {
    var button = e.target.closest("button[data-lang]");
    if (!button) return;
    document.cookie = "lang=" + button.getAttribute("data-lang") + "; path=/; max-age=31536000; samesite=strict";
    location.reload();
  });
})();
