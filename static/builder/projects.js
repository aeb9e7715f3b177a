// The project list: deleting a project asks first. A static file, not an inline handler, because the
// builder's Content-Security-Policy runs no inline script.
(function () {
  "use strict";

  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
})();
