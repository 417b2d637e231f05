// The release page's rollback plan: each trigger row previews the rule it makes, as typed.
(function () {
  "use strict";

  function preview(row) {
    var field = function (name) {
      var el = row.querySelector("[name$='-" + name + "']");
      return el ? el.value.trim() : "";
    };
    var comparison = row.querySelector("[name$='-comparison']");
    var subject = field("metric");
    if (field("kind") === "promql") {
      subject = subject ? subject + ": " + field("query") : field("query");
    }
    var out = row.querySelector("[data-trigger-preview]");
    if (!out) { return; }
    out.textContent = subject
      ? subject + " " + comparison.options[comparison.selectedIndex].text + " " +
        (field("threshold") || "…") + " for " + (field("window_minutes") || "…") + " min"
      : "";
  }

  document.addEventListener("input", function (event) {
    var row = event.target.closest && event.target.closest("[data-trigger-row]");
    if (row) { preview(row); }
  });
  document.addEventListener("change", function (event) {
    var row = event.target.closest && event.target.closest("[data-trigger-row]");
    if (row) { preview(row); }
  });
})();
