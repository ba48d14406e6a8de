// The module pages follow the module feed (the WebSocket /ws/module_feed, opened with the page's
// session): whenever it reports a change, the element's live part is fetched again.
//   <div data-module-feed="/ui/modules/live">                 every operation and instance
//   <div data-module-feed="/ui/…/progress" data-operation="id">  one operation, until it ends
// Without a WebSocket (a proxy that drops the upgrade), the part is fetched every few seconds.
(function () {
  "use strict";
  function follow(element) {
    var fragment = element.getAttribute("data-module-feed");
    var operation = element.getAttribute("data-operation");
    var pending = null;
    var failures = 0;
    var fallback = null;
    function refresh() {
      pending = null;
      fetch(fragment, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) { if (html !== null) { element.innerHTML = html; } })
        .catch(function () { /* the next change tries again */ });
    }
    function soon() {
      if (pending === null) { pending = window.setTimeout(refresh, 200); }
    }
    function poll() {
      if (fallback === null) { fallback = window.setInterval(refresh, 3000); }
    }
    function open() {
      var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
      var url = scheme + "//" + window.location.host + "/ws/module_feed" +
        (operation ? "?operation_id=" + encodeURIComponent(operation) : "");
      var socket;
      try { socket = new WebSocket(url, ["stellwerk.module_feed"]); } catch (error) { poll(); return; }
      var opened = false;
      socket.onopen = function () { opened = true; failures = 0; };
      socket.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (error) { return; }
        if (message.type === "operation" || message.type === "instance" ||
            message.type === "instance_removed") { soon(); }
      };
      socket.onclose = function (event) {
        if (event.code === 1000 && operation) { refresh(); return; }  // the operation ended
        if (event.code === 1008) { window.location.reload(); return; }  // logged out
        failures += opened ? 0 : 1;
        if (failures >= 3) { poll(); return; }
        window.setTimeout(open, 3000);
      };
    }
    open();
  }
  document.querySelectorAll("[data-module-feed]").forEach(follow);
})();
