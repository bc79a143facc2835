/* CAS login with method=POST: send the ticket to the service at once. The page keeps a visible
   button for browsers without JavaScript. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("cas-post-form");
    if (form) form.submit();
  });
})();
