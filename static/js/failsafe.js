// Failsafe page behaviour. No inline scripts anywhere: this file and htmx are all there is.
(function () {
  "use strict";
  // A flash message fades after a while; errors stay until the page changes.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".flash-success, .flash-info").forEach(function (el) {
      setTimeout(function () { el.classList.add("is-fading"); }, 5000);
    });
  });
  // htmx answers 4xx with form fragments that carry the field errors: swap them in.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 400 || event.detail.xhr.status === 409) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
