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
//   <button class="menu-button" aria-controls="sidenav">   opens and closes the navigation
//   <input data-suggest="/ui/search/suggest" aria-controls="id">   the search box: "/" focuses it,
//                                        typing shows matches in #id, arrows move through them
//   a field whose error is shown in #<name>-error: the error goes once the field is changed
(function () {
  "use strict";
  document.documentElement.classList.add("js");
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

  // The navigation below 768 px: folded behind the menu button.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".menu-button");
    if (!button) { return; }
    var menu = document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) { return; }
    var open = !menu.classList.contains("open");
    menu.classList.toggle("open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { var first = menu.querySelector("a"); if (first) { first.focus(); } }
  });
  // A field's error message belongs to what was sent: editing the field hides it.
  function clearError(event) {
    var field = event.target;
    if (!field.name || !field.form) { return; }
    var error = document.getElementById(field.name + "-error");
    if (error && error.classList.contains("field-error")) {
      error.hidden = true;
      field.removeAttribute("aria-invalid");
    }
  }
  document.addEventListener("input", clearError);
  document.addEventListener("change", clearError);
  // The search box.
  var search = document.querySelector("input[data-suggest]");
  if (search) {
    var box = document.getElementById(search.getAttribute("aria-controls"));
    var close = function () { if (box) { box.innerHTML = ""; } };
    var links = function () { return box ? Array.prototype.slice.call(box.querySelectorAll("a")) : []; };
    var fetchSuggestions = function () {
      var query = search.value.trim();
      var ticket = (search.stellwerkTicket || 0) + 1;
      search.stellwerkTicket = ticket;
      if (!query) { close(); return; }
      fetch(search.getAttribute("data-suggest") + "?q=" + encodeURIComponent(query),
        { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html !== null && box && search.stellwerkTicket === ticket && search.value.trim()) {
            box.innerHTML = html;
          }
        })
        .catch(function () { /* the next keystroke tries again */ });
    };
    search.addEventListener("input", function () {
      window.clearTimeout(search.stellwerkTimer);
      search.stellwerkTimer = window.setTimeout(fetchSuggestions, 200);
    });
    search.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") {
        var found = links();
        if (found.length) { event.preventDefault(); found[0].focus(); }
      } else if (event.key === "Escape") {
        close();
        search.blur();
      }
    });
    if (box) {
      box.addEventListener("keydown", function (event) {
        var found = links();
        var index = found.indexOf(document.activeElement);
        if (event.key === "ArrowDown" && index < found.length - 1) {
          event.preventDefault(); found[index + 1].focus();
        } else if (event.key === "ArrowUp") {
          event.preventDefault();
          if (index > 0) { found[index - 1].focus(); } else { search.focus(); }
        } else if (event.key === "Escape") {
          close(); search.focus();
        }
      });
    }
    document.addEventListener("click", function (event) {
      if (!event.target.closest || !event.target.closest(".search")) { close(); }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) { return; }
      var target = event.target;
      var tag = target && target.tagName;
      if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) {
        return;
      }
      event.preventDefault();
      search.focus();
      search.select();
    });
  }
})();
