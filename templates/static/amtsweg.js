// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Move focus to the error summary so screen readers announce the problems.
  var summary = document.querySelector("[data-autofocus]");
  if (summary) { summary.focus(); }

  // Show conditional fields only when their controlling answer is chosen.
  // The server decides anyway: hidden answers are dropped there.
  var conditionals = document.querySelectorAll("[data-show-if-field]");
  function update() {
    conditionals.forEach(function (el) {
      var name = el.getAttribute("data-show-if-field");
      var want = el.getAttribute("data-show-if-value");
      var checked = document.querySelector('input[name="' + name + '"]:checked');
      var select = document.querySelector('select[name="' + name + '"]');
      var current = checked ? checked.value : (select ? select.value : null);
      var controlled = document.querySelector('[name="' + name + '"]');
      if (!controlled) { return; }  // controller on an earlier page: the server decided
      // A controller inside a hidden conditional counts as unanswered (document order:
      // the controller's own group was updated first), so nested conditionals hide too.
      var controllerHidden = !!controlled.closest("[data-show-if-field][hidden]");
      el.hidden = controllerHidden || current !== want;
    });
  }
  if (conditionals.length) {
    document.addEventListener("change", update);
    update();
  }

  // Prevent double submission of filing and workflow forms (the server is idempotent too).
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-submitted")) { event.preventDefault(); return; }
      form.setAttribute("data-submitted", "1");
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        window.setTimeout(function () { b.disabled = true; }, 0);
      });
    });
  });
}());
