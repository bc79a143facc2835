/* Progressive enhancement only: every form works without this file.
   1. The password checklist ticks rules as the student types (rules read from data-*
      attributes rendered from the settings, so they match the server's checker).
   2. A "did you mean …?" hint for common domain typos of the personal address.
   3. Focus starts at the main heading, or at the error summary of a refused form.
   4. The update-request form shows only the "valeur exacte" fields of the chosen kind
      (data-kinds; every field shows without this file). */
(function () {
  "use strict";
  var UPPER = /[A-Z]/, LOWER = /[a-z]/, DIGIT = /[0-9]/;

  function setState(el, ok) {
    if (!el) return;
    el.classList.toggle("ok", ok);
    el.classList.toggle("ko", !ok);
  }

  function initPassword() {
    var list = document.getElementById("password-checklist");
    var input = document.querySelector("input[data-password-policy]");
    if (!list || !input) return;
    var min = parseInt(list.dataset.min, 10), max = parseInt(list.dataset.max, 10);
    var need = parseInt(list.dataset.classes, 10), specials = list.dataset.specials || "";
    var live = document.getElementById("password-live");
    var timer = null;
    input.addEventListener("input", function () {
      var pw = input.value, kinds = 0, allowed = true, k;
      var has = { upper: false, lower: false, digit: false, special: false };
      for (var i = 0; i < pw.length; i++) {
        var c = pw.charAt(i);
        if (UPPER.test(c)) has.upper = true;
        else if (LOWER.test(c)) has.lower = true;
        else if (DIGIT.test(c)) has.digit = true;
        else if (specials.indexOf(c) !== -1) has.special = true;
        else allowed = false;
      }
      for (k in has) { if (has[k]) kinds++; setState(list.querySelector('[data-class="' + k + '"]'), has[k]); }
      var okLength = pw.length >= min && pw.length <= max;
      setState(list.querySelector('[data-rule="length"]'), okLength);
      setState(list.querySelector('[data-rule="allowed"]'), allowed && pw.length > 0);
      setState(list.querySelector('[data-rule="classes"]'), kinds >= need);
      if (live) {
        clearTimeout(timer);
        timer = setTimeout(function () {
          // Say which rule is met and which is missing, not a bare "2 / 3".
          var states = { length: okLength, allowed: allowed && pw.length > 0, classes: kinds >= need };
          live.textContent = Object.keys(states).map(function (rule) {
            var item = list.querySelector('[data-rule="' + rule + '"]');
            var label = (item && item.dataset.label || rule).replace(/\s*:\s*$/, "");
            return (live.dataset.pattern || "{rule} : {state}.")
              .replace("{rule}", label)
              .replace("{state}", states[rule] ? live.dataset.met : live.dataset.missing);
          }).join(" ");
        }, 800);
      }
    });
  }

  var DOMAINS = ["gmail.com", "hotmail.fr", "hotmail.com", "outlook.fr", "outlook.com", "live.fr",
    "yahoo.fr", "yahoo.com", "icloud.com", "orange.fr", "wanadoo.fr", "free.fr", "sfr.fr",
    "laposte.net", "protonmail.com"];

  function distance(a, b) {
    var d = [], i, j;
    for (i = 0; i <= a.length; i++) { d[i] = [i]; }
    for (j = 0; j <= b.length; j++) { d[0][j] = j; }
    for (i = 1; i <= a.length; i++) {
      for (j = 1; j <= b.length; j++) {
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
    return d[a.length][b.length];
  }

  function initEmail() {
    var input = document.querySelector('input[type="email"]');
    var hint = document.getElementById("email-suggestion");
    if (!input || !hint) return;
    input.addEventListener("blur", function () {
      var value = input.value.trim(), at = value.lastIndexOf("@");
      if (at < 1) return;
      var domain = value.slice(at + 1).toLowerCase();
      if (DOMAINS.indexOf(domain) !== -1) { hint.hidden = true; return; }
      var best = null, bestD = 3;
      DOMAINS.forEach(function (d) { var x = distance(domain, d); if (x < bestD) { bestD = x; best = d; } });
      if (!best || bestD > 2) { hint.hidden = true; return; }
      var fixed = value.slice(0, at + 1) + best;
      hint.textContent = "";
      var label = document.documentElement.lang === "en" ? "Did you mean " : "Vouliez-vous dire ";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "link-button";
      button.textContent = fixed;
      button.addEventListener("click", function () { input.value = fixed; hint.hidden = true; input.focus(); });
      hint.appendChild(document.createTextNode(label));
      hint.appendChild(button);
      hint.appendChild(document.createTextNode(" ?"));
      hint.hidden = false;
    });
  }

  function initKindFields() {
    var box = document.getElementById("kind-values");
    var select = box && document.getElementById(box.dataset.kindSelect);
    if (!select) return;
    function update() {
      var kind = select.value, shown = 0;
      Array.prototype.forEach.call(box.querySelectorAll("[data-kinds]"), function (el) {
        var fits = kind !== "" && (" " + el.dataset.kinds + " ").indexOf(" " + kind + " ") !== -1;
        // A field with an error stays in sight until a kind that does not need it is chosen.
        if (kind === "" && el.querySelector(".has-error")) fits = true;
        el.hidden = !fits;
        // A hidden field is not posted: nothing out of sight can refuse the form.
        Array.prototype.forEach.call(el.querySelectorAll("input, select, textarea"), function (input) {
          input.disabled = !fits;
        });
        if (fits) shown++;
      });
      box.hidden = shown === 0;
    }
    select.addEventListener("change", update);
    update();
  }

  // After each page change, start keyboard and screen-reader users at the error summary when
  // the form was refused, else at the page's main heading (not on body, five Tabs away from
  // the form). The heading gets tabindex=-1: focusable by script, not a Tab stop. Nothing
  // moves if the browser already focused something (a #fragment target, a field).
  function focusStart() {
    var active = document.activeElement;
    if (active && active !== document.body && active !== document.documentElement) return;
    if (location.hash && document.getElementById(location.hash.slice(1))) return;
    var target = document.getElementById("error-summary") || document.querySelector("main h1");
    if (!target) return;
    if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: target.id !== "error-summary" });
  }

  document.addEventListener("DOMContentLoaded", function () { initPassword(); initEmail(); initKindFields(); focusStart(); });
})();
