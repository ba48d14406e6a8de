// Stellwerk's few behaviours, driven by data attributes (no inline scripts: the CSP forbids them).
//   <form data-confirm="Delete X?">     asks before submitting
//   <div data-poll="/ui/..." data-interval="1000">   replaces its content with the URL's HTML
//                                        until the fragment says data-final="true"
//   <button data-copy="#id">             copies the text of #id
//   <button data-confirm="…">            asks before submitting its form with this button
//   <input data-fragment="/ui/..." data-target="#id" data-param="q">   as you type (debounced)
//                                        or change, puts the URL's HTML (?q=value) into #id
//   <button data-pick="7" data-pick-into="#field" data-pick-label="…" data-pick-show="#p">
//                                        puts 7 into the hidden #field and the label into #p
//   <input type="checkbox" data-check-all="ids">   checks or clears every checkbox named ids
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); return; }
    var button = event.submitter;
    var asked = button && button.getAttribute && button.getAttribute("data-confirm");
    if (asked && !window.confirm(asked)) { event.preventDefault(); }
  });
  function loadFragment(field) {
    var url = field.getAttribute("data-fragment");
    var target = document.querySelector(field.getAttribute("data-target"));
    if (!target) { return; }
    var name = field.getAttribute("data-param") || field.name || "q";
    var full = url + (url.indexOf("?") >= 0 ? "&" : "?") + encodeURIComponent(name) + "=" +
      encodeURIComponent(field.value);
    var ticket = (field.stellwerkTicket || 0) + 1;
    field.stellwerkTicket = ticket;
    fetch(full, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        // Only the answer to the latest keystroke counts; earlier ones may arrive later.
        if (html !== null && field.stellwerkTicket === ticket) { target.innerHTML = html; }
      })
      .catch(function () { /* the next keystroke tries again */ });
  }
  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!field.getAttribute || !field.getAttribute("data-fragment") || field.tagName === "SELECT") { return; }
    window.clearTimeout(field.stellwerkTimer);
    field.stellwerkTimer = window.setTimeout(function () { loadFragment(field); }, 250);
  });
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.getAttribute && field.getAttribute("data-fragment") && field.tagName === "SELECT") {
      loadFragment(field);
    }
    var group = field.getAttribute && field.getAttribute("data-check-all");
    if (group) {
      document.querySelectorAll("input[type=checkbox][name='" + group + "']").forEach(function (box) {
        box.checked = field.checked;
      });
    }
  });
  document.addEventListener("click", function (event) {
    var pick = event.target.closest && event.target.closest("[data-pick]");
    if (!pick) { return; }
    var into = document.querySelector(pick.getAttribute("data-pick-into"));
    var show = document.querySelector(pick.getAttribute("data-pick-show"));
    if (into) { into.value = pick.getAttribute("data-pick"); }
    if (show) { show.textContent = "Chosen: " + pick.getAttribute("data-pick-label"); }
    var list = pick.closest(".results");
    if (list) { list.innerHTML = ""; }
  });
  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("[data-copy]");
    if (!target) { return; }
    var source = document.querySelector(target.getAttribute("data-copy"));
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim());
      target.textContent = "Copied";
    }
  });
  function poll(element) {
    var url = element.getAttribute("data-poll");
    var interval = parseInt(element.getAttribute("data-interval") || "1000", 10);
    var tries = 0;
    function tick() {
      tries += 1;
      fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html !== null) { element.innerHTML = html; }
          var done = element.querySelector("[data-final='true']");
          if (!done && tries < 3600) { window.setTimeout(tick, interval); }
        })
        .catch(function () { if (tries < 3600) { window.setTimeout(tick, interval * 2); } });
    }
    window.setTimeout(tick, interval);
  }
  document.querySelectorAll("[data-poll]").forEach(poll);
})();
