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
