// Styles that need JavaScript (the folding menu) apply only when it runs.
document.documentElement.classList.add("js");

// Disable a form's [data-once] submit button after the first submit: a double click sends one
// request. The server's one-time form token is what guarantees it; this only spares the user.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset.submitted === "1") {
    event.preventDefault();
    return;
  }
  var once = form.querySelector("[data-once]");
  if (once) {
    form.dataset.submitted = "1";
    setTimeout(function () { once.disabled = true; once.textContent = "Working…"; }, 0);
  }
});

// Live panels: an element with data-poll="<ms>" is refreshed by htmx (its "refresh" trigger) on
// that interval, only while the tab is visible, and at once when the tab becomes visible again.
(function () {
  function refresh() {
    if (document.visibilityState !== "visible" || !window.htmx) return;
    document.querySelectorAll("[data-poll]").forEach(function (el) { htmx.trigger(el, "refresh"); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var el = document.querySelector("[data-poll]");
    if (!el) return;
    setInterval(refresh, parseInt(el.dataset.poll, 10) || 5000);
    document.addEventListener("visibilitychange", refresh);
  });
})();

// A revealed value's "Hide" puts back what the profile showed before (the masked value and its
// Reveal form, kept in a <template> beside it): nothing in clear stays on the page.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-hide-pii]");
  if (!button) return;
  var cell = button.closest("dd");
  var masked = cell && cell.querySelector("template");
  if (!masked) return;
  cell.innerHTML = masked.innerHTML;
  if (window.htmx) htmx.process(cell);
});

// On a phone the main menu folds behind its "Menu" button.
document.addEventListener("click", function (event) {
  var toggle = event.target.closest(".menu-toggle");
  if (!toggle) return;
  var nav = document.getElementById(toggle.getAttribute("aria-controls"));
  var open = nav.classList.toggle("open");
  toggle.setAttribute("aria-expanded", open ? "true" : "false");
});
