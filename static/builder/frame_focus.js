// A preview's iframe shows when the keyboard is inside its app. Chromium does not match :focus on an
// iframe whose document has the focus, and the app's own page may draw no focus ring, so a person
// tabbing through the builder would lose track of where they are: mark the frame while it holds focus.
(function () {
  "use strict";
  function mark() {
    for (const frame of document.querySelectorAll("iframe.has-focus")) {
      if (frame !== document.activeElement) frame.classList.remove("has-focus");
    }
    const active = document.activeElement;
    if (active && active.tagName === "IFRAME") active.classList.add("has-focus");
  }
  // Focus leaving the builder's document for a frame blurs the window; activeElement is set just after.
  window.addEventListener("blur", () => setTimeout(mark, 0));
  document.addEventListener("focusin", mark);
})();
