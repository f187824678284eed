// The review app's only script (served from /static; the CSP allows no inline script).
// The app works without it; it only shows the decision form's fields that the chosen
// decision needs: the reference for "avvikelse anmäld", the reason for the others.
(function () {
  "use strict";
  var form = document.querySelector(".beslutsformular");
  if (!form) { return; }
  var reference = form.querySelector("#reference");
  var reason = form.querySelector("#reason");
  function row(input) { return [input, form.querySelector("label[for='" + input.id + "']")]; }
  function show(input, visible) {
    row(input).forEach(function (el) { if (el) { el.classList.toggle("dold", !visible); } });
  }
  function update() {
    var chosen = form.querySelector("input[name='decision']:checked");
    var value = chosen ? chosen.value : "";
    show(reference, value === "deviation-filed");
    show(reason, value !== "deviation-filed" || reason.value !== "");
    reason.required = ["justified", "data-error", "reopen"].indexOf(value) >= 0;
  }
  form.addEventListener("change", update);
  update();
}());
