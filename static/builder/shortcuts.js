// Keyboard shortcuts on the project page, listed in the help popover (templates/builder/_shortcuts.html).
// Each one presses a button that is on the page anyway, so a shortcut does exactly what a click does
// (and nothing while that button is hidden). Letters are ignored while the user types in a box; the
// compare view handles its own vote keys (static/builder/compare.js).
(function () {
  "use strict";

  const help = document.getElementById("shortcuts-help");
  const el = (id) => document.getElementById(id);
  if (!help || !el("app")) return;

  function visible(node) {
    return !!node && !node.disabled && node.getClientRects().length > 0;
  }

  function press(node) {
    if (visible(node)) node.click();
  }

  // The next (step 1) or previous (step -1) candidate of the turn on screen, cycling.
  function stepCandidate(step) {
    const selected = document.querySelector(".turn .candidate.selected");
    if (!selected) return;
    const tabs = [...selected.closest(".candidates").querySelectorAll(".candidate")];
    const next = tabs[(tabs.indexOf(selected) + step + tabs.length) % tabs.length];
    if (next !== selected) { next.click(); document.querySelector(`.candidate[data-generation="${next.dataset.generation}"]`)?.focus(); }
  }

  function compareSelectedTurn() {
    const selected = document.querySelector(".turn .candidate.selected");
    press(selected && selected.closest(".turn").querySelector(".open-compare"));
  }

  // The list opens above the compare view too: inside its modal dialog, or the rest of the page is inert
  // (its Close button could not be clicked, and Esc would close the view with it).
  const helpHome = help.parentElement;

  function toggleHelp() {
    const compare = el("sbs");
    const home = compare && compare.open ? compare : helpHome;
    if (help.parentElement !== home) {
      if (help.matches(":popover-open")) help.hidePopover();
      home.append(help);
    }
    help.togglePopover();
  }

  const ACTIONS = {
    "?": toggleHelp,
    "/": () => el("prompt").focus(),
    a: () => press(el("accept")),
    r: () => press(el("reject")),
    n: () => stepCandidate(1),
    p: () => stepCandidate(-1),
    c: compareSelectedTurn,
  };

  for (const opener of document.querySelectorAll("[data-open-help]")) opener.addEventListener("click", toggleHelp);
  el("sbs")?.addEventListener("close", () => {
    if (help.parentElement === helpHome) return;
    if (help.matches(":popover-open")) help.hidePopover();
    helpHome.append(help);
  });

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented) return;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      // Send from anywhere on the page, as the Build button does.
      if (!el("sbs")?.open && event.target.id !== "prompt") { event.preventDefault(); el("prompt-form").requestSubmit(); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input:not([type=checkbox]), textarea, select, [contenteditable='true'], .cm-editor")) return;
    if (el("sbs")?.open && event.key !== "?") return; // the compare view's own keys
    const action = ACTIONS[event.key];
    if (action) { event.preventDefault(); action(); }
  });
})();
