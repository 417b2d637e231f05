// Failsafe page behaviour. No inline scripts anywhere: this file and htmx are all there is.
(function () {
  "use strict";
  // A flash message fades after a while; errors stay until the page changes.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".flash-success, .flash-info").forEach(function (el) {
      setTimeout(function () { el.classList.add("is-fading"); }, 5000);
      // Once faded, gone: an invisible message would still hold its space above the page.
      setTimeout(function () {
        var stack = el.parentElement;
        el.remove();
        if (stack && stack.classList.contains("flash-stack") && !stack.children.length) { stack.remove(); }
      }, 5700);
    });
  });
  // The site menu on a narrow screen: a button folds the navigation away and opens it again
  // (CSS hides the folded menu only below 900 px, and only once this has run: without the
  // script the navigation stays open). Escape closes it and gives the focus back.
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector(".menu-button");
    var menu = button && document.getElementById(button.getAttribute("aria-controls"));
    var sidebar = menu && button.closest(".sidebar");
    if (!sidebar) { return; }
    var setOpen = function (open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      sidebar.classList.toggle("is-menu-open", open);
    };
    setOpen(false);
    sidebar.classList.add("has-menu");
    button.hidden = false;
    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || button.getAttribute("aria-expanded") !== "true") { return; }
      if (!button.offsetParent) { return; }  // a wide screen: the menu is not folded there
      setOpen(false);
      button.focus();
    });
  });
  // A button with data-copy="#id" copies that element's text (a token shown once), and says so.
  // Delegated: the button may arrive in an htmx swap. Without the clipboard API (plain HTTP),
  // the text is selected for ⌘C / Ctrl+C instead.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) { return; }
    var label = button.textContent;
    var done = function () {
      button.textContent = button.getAttribute("data-copied-label") || "Copied";
      button.classList.add("is-copied");
      setTimeout(function () { button.textContent = label; button.classList.remove("is-copied"); }, 2000);
    };
    var select = function () {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent.trim()).then(done, select);
    } else {
      select();
    }
  });
  // htmx answers 4xx with form fragments that carry the field errors: swap them in.
  // A person found by the people search (governance:people-search): choosing one puts their
  // username in the input the list belongs to, and closes the list.
  document.addEventListener("click", function (event) {
    var option = event.target.closest("[data-person]");
    if (!option) { return; }
    var list = option.closest("[data-person-options]");
    var input = list && document.getElementById(list.getAttribute("data-person-options"));
    if (!input) { return; }
    input.value = option.getAttribute("data-person");
    list.innerHTML = "";
    input.focus();
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 400 || event.detail.xhr.status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  // Any other refusal or failure of a request a person made in place (htmx swaps nothing on
  // it) is said at the top of the page, with the server's own sentence where it gave one:
  // a click must never seem to do nothing. Background polls stay quiet; their own banners
  // speak for the server.
  function isPoll(element) {
    var trigger = (element && element.getAttribute("hx-trigger")) || "";
    return /\bevery\b|\bload\b/.test(trigger);
  }
  function serverSentence(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    try {
      if (type.indexOf("json") !== -1) {
        var body = JSON.parse(xhr.responseText);
        return body && typeof body.detail === "string" ? body.detail : "";
      }
      if (type.indexOf("html") !== -1) {
        var page = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var rule = page.querySelector(".refusal-rule") || page.querySelector(".auth-sub");
        return rule ? rule.textContent.replace(/\s+/g, " ").trim() : "";
      }
    } catch (ignored) { /* an unreadable body: the status says enough */ }
    return "";
  }
  function failureText(xhr) {
    var said = serverSentence(xhr);
    var wait = xhr.getResponseHeader("Retry-After");
    switch (xhr.status) {
      case 403: return said || "Not allowed: your roles do not allow this. Nothing was changed.";
      case 404: return "This is no longer here, or not yours to see. Reload the page.";
      case 429: return "Too many requests" + (wait ? ": try again in " + wait + " s." : ". Try again shortly.");
      case 503: return said || "Failsafe is unavailable for a moment. Try again shortly.";
      default: return (said ? said + " " : "") + "The request failed (" + xhr.status + "). Reload the page to see what changed.";
    }
  }
  function sayFailure(text) {
    var main = document.getElementById("main");
    if (!main) { return; }
    var stack = main.querySelector(".flash-stack");
    if (!stack) {
      stack = document.createElement("div");
      stack.className = "flash-stack";
      var head = main.querySelector(".page-head");
      main.insertBefore(stack, head ? head.nextSibling : main.firstChild);
    }
    var flash = stack.querySelector("[data-request-failure]");  // one at a time: the latest
    if (!flash) {
      flash = document.createElement("div");
      flash.className = "flash flash-error";
      flash.setAttribute("role", "alert");
      flash.setAttribute("data-request-failure", "");
      stack.appendChild(flash);
    }
    flash.textContent = text;
  }
  document.addEventListener("htmx:responseError", function (event) {
    if (isPoll(event.detail.elt)) { return; }
    sayFailure(failureText(event.detail.xhr));
  });
  document.addEventListener("htmx:sendError", function (event) {
    if (isPoll(event.detail.elt)) { return; }
    sayFailure("Failsafe could not be reached: check the connection and try again.");
  });
})();
