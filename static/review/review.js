// The review console's keyboard: one key per decision, j/k to move. No inline script (strict CSP).
(function () {
  "use strict";
  const main = document.querySelector("main.review");
  if (!main) return;

  function typing(target) {
    return target.matches("input, textarea, select");
  }

  function queueKeys(event) {
    const rows = Array.from(document.querySelectorAll("tr[data-href]"));
    if (!rows.length) return;
    let at = rows.findIndex((row) => row.classList.contains("selected"));
    if (event.key === "j" || event.key === "k") {
      rows[at]?.classList.remove("selected");
      at = Math.min(Math.max(at + (event.key === "j" ? 1 : -1), 0), rows.length - 1);
      rows[at].classList.add("selected");
      rows[at].scrollIntoView({ block: "nearest" });
    } else if (event.key === "Enter" || event.key === "o") {
      window.location.assign(rows[Math.max(at, 0)].dataset.href);
    } else {
      return;
    }
    event.preventDefault();
  }

  function itemKeys(event) {
    const target = document.querySelector(`[data-key="${event.key}"]`);
    if (target && (target.tagName === "BUTTON" || target.tagName === "A")) {
      target.click();
    } else if (target) {
      target.focus();  // exclude and tag ask for words first; Enter submits their own form
    } else if (event.key === "j" && main.dataset.next) {
      window.location.assign(main.dataset.next);
    } else if (event.key === "k" && main.dataset.prev && !main.dataset.prev.endsWith("i=-1")) {
      window.location.assign(main.dataset.prev);
    } else {
      return;
    }
    event.preventDefault();
  }

  // Blind vote: the live previews load only when asked for (each is an app server running).
  document.querySelectorAll("[data-action=previews]").forEach((button) => {
    button.addEventListener("click", () => {
      document.querySelectorAll("iframe.live[data-src]").forEach((frame) => {
        frame.src = frame.dataset.src;
        frame.hidden = false;
      });
      button.disabled = true;
    });
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (main.dataset.page === "queue") queueKeys(event);
    if (main.dataset.page === "item" || main.dataset.page === "blind") itemKeys(event);
  });
})();
