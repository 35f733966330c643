// The exported models page's filter: hides the rows whose name, aliases and tags do not contain
// the text typed. A file, not inline, so that the pages' Content-Security-Policy forbids inline
// script. It reads the data-search attribute only and writes nothing but the hidden flags.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("filter");
  var table = document.getElementById("models");
  var none = document.getElementById("no-models");
  if (!box || !table) { return; }
  var rows = table.tBodies[0].rows;
  function apply() {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var text = rows[i].getAttribute("data-search") || "";
      var match = words.every(function (w) { return text.indexOf(w) !== -1; });
      rows[i].hidden = !match;
      if (match) { shown++; }
    }
    if (none) { none.hidden = shown !== 0; }
  }
  box.form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
  box.addEventListener("input", apply);
  var initial = new URLSearchParams(window.location.search).get("filter");
  if (initial) { box.value = initial; }
  apply();
});
