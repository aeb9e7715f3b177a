// Compare side by side: a compare turn's two candidates, A and B, next to each other, each with its live
// preview (an iframe on the preview's own origin, as the project page embeds one) and its files, and the
// vote: A is better / B is better / tie / both bad, with an optional reason.
//
// It keeps out of project.js's state: project.js sends one DOM event, "kiln:compare" {turn}, and this
// reads the turn over HTTP (GET .../turns/<id>/compare/, owner-scoped), again every POLL_MS until
// nothing more will change. In blind mode the server leaves the model names out until the vote.
(function () {
  "use strict";

  const root = document.getElementById("app");
  const dialog = document.getElementById("sbs");
  if (!root || !dialog) return;
  const projectId = root.dataset.project;
  const el = (id) => document.getElementById(id);
  const part = (letter, role) => dialog.querySelector(`[data-side="${letter}"] [data-role="${role}"]`);

  const POLL_MS = 1500;
  const TEXT_BOXES = "input:not([type=checkbox]), textarea, select";
  const KEYS = { 1: "a", a: "a", 2: "b", b: "b", 3: "tie", t: "tie", 4: "both_bad", x: "both_bad" };
  const STATUS_WORDS = { waiting: "Waiting its turn…", queued: "Queued…", running: "Writing the app…",
                         failed: "This candidate failed.", cancelled: "This candidate was stopped." };
  const BUILD_WORDS = { queued: "Build queued…", building: "Building…", ready: "Ready", failed: "Build failed",
                        stopped: "Preview stopped" };

  let turnId = null;
  let state = null;
  let timer = null;
  let loading = false;
  let voting = false;
  const chosenPath = { A: null, B: null };
  const texts = new Map(); // sha256 -> file content

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then((r) => {
      if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
      return r.json();
    });
  }

  // A POST the server answers with JSON: {ok, data}; a refusal carries data.error for the user.
  function post(url, fields) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", body: new URLSearchParams(fields),
      headers: { Accept: "application/json", "X-CSRFToken": dialog.dataset.csrf },
    }).then((r) => r.json().then((data) => ({ ok: r.ok, data })));
  }

  function showError(text) {
    el("sbs-error").hidden = !text;
    el("sbs-error").textContent = text || "";
  }

  function open(turn) {
    if (turnId !== turn) {
      state = null;
      chosenPath.A = chosenPath.B = null;
      for (const letter of "AB") resetFrame(letter);
      el("sbs-reason").value = "";
      render();
    }
    turnId = turn;
    showError("");
    if (!dialog.open) dialog.showModal();
    dialog.focus(); // the vote keys work at once; Tab goes on to the controls
    load();
  }

  function load() {
    if (loading || turnId === null) return;
    loading = true;
    const asked = turnId;
    getJSON(`/projects/${projectId}/turns/${asked}/compare/`).then((s) => {
      if (asked !== turnId) return;
      state = s;
      render();
    }).catch(() => showError("Could not load this comparison. Close it and try again.")).finally(() => {
      loading = false;
      if (asked !== turnId) load(); // another turn was opened while this one loaded
      else schedule();
    });
  }

  function schedule() {
    clearTimeout(timer);
    if (dialog.open && state && !state.settled) timer = setTimeout(load, POLL_MS);
  }

  // --- rendering ------------------------------------------------------------------------------------

  function render() {
    el("sbs-prompt").textContent = state ? state.prompt : "Loading…";
    el("sbs-blind").checked = state ? state.blind : true;
    for (const letter of "AB") renderSide(letter, state && state.sides.find((s) => s.letter === letter));
    renderVote();
  }

  function renderSide(letter, side) {
    const model = part(letter, "model");
    model.textContent = !side ? "" : state.revealed ? `Model: ${side.model}` : "Model hidden until you vote";
    model.dataset.revealed = String(!!(side && state.revealed));
    const status = part(letter, "status");
    const build = side && side.build;
    status.dataset.status = build ? build.status : side && side.status === "failed" ? "failed" : "none";
    status.textContent = !side ? "" : build ? BUILD_WORDS[build.status] || build.status
      : side.status === "done" ? "Waiting for the build…" : "";
    part(letter, "note").textContent = !side ? "" : side.repaired ? "repaired by Kiln after a failed build"
      : `${side.file_count} files`;
    const url = build && build.status === "ready" ? build.preview_url : null;
    const frame = part(letter, "preview");
    if (url && frame.dataset.build !== String(build.id)) {
      frame.dataset.build = String(build.id);
      frame.src = url;
    }
    frame.hidden = !url;
    const wait = part(letter, "wait");
    wait.hidden = !!url;
    wait.textContent = !side ? "Loading…" : side.status !== "done" ? (side.error || STATUS_WORDS[side.status] || "")
      : build && build.status === "failed" ? (build.message || "The build failed.")
      : build && build.status === "stopped" ? "This preview was stopped. Open the candidate in the chat to see its files."
      : "Building the preview…";
    renderFiles(letter, side);
  }

  function renderFiles(letter, side) {
    const list = part(letter, "files");
    const files = side ? side.files : [];
    const paths = files.map((f) => f.path);
    if (!paths.includes(chosenPath[letter])) {
      chosenPath[letter] = paths.find((p) => p.endsWith("App.jsx")) || paths[0] || null;
    }
    const focused = list.contains(document.activeElement) ? document.activeElement.dataset.path : null;
    list.replaceChildren();
    for (const f of files) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "sbs-file" + (f.path === chosenPath[letter] ? " selected" : "");
      b.dataset.path = f.path;
      b.textContent = f.path;
      b.setAttribute("aria-pressed", String(f.path === chosenPath[letter]));
      b.addEventListener("click", () => { chosenPath[letter] = f.path; renderFiles(letter, side); });
      li.append(b);
      list.append(li);
    }
    if (focused) { const again = list.querySelector(`[data-path="${CSS.escape(focused)}"]`); if (again) again.focus(); }
    const code = part(letter, "code");
    const entry = files.find((f) => f.path === chosenPath[letter]);
    if (!entry) { code.textContent = side && side.status === "done" ? "No files." : ""; return; }
    code.dataset.path = entry.path;
    if (texts.has(entry.sha256)) { code.textContent = texts.get(entry.sha256); return; }
    code.textContent = "Loading…";
    fetch(`/projects/${projectId}/versions/${side.version}/blobs/${entry.sha256}`, { credentials: "same-origin" })
      .then((r) => { if (!r.ok) throw new Error(r.statusText); return r.text(); })
      .then((text) => {
        texts.set(entry.sha256, text);
        if (code.dataset.path === entry.path) code.textContent = text;
      })
      .catch(() => { if (code.dataset.path === entry.path) code.textContent = "Could not load this file. Choose it again."; });
  }

  function renderVote() {
    const vote = state && state.vote;
    for (const b of dialog.querySelectorAll("[data-choice]")) {
      b.disabled = !state || !state.can_vote || voting;
      b.setAttribute("aria-pressed", String(!!vote && vote.choice === b.dataset.choice));
    }
    el("sbs-reason").disabled = !state || !state.can_vote;
    const result = el("sbs-result");
    if (vote) {
      const models = state.sides.map((s) => `${s.letter} was written by ${s.model}`).join(", ");
      result.textContent = `You voted: ${vote.label}${vote.reason ? ` (“${vote.reason}”)` : ""}. ${models}.`;
      result.dataset.state = "voted";
    } else {
      result.textContent = state && state.waiting ? state.waiting : "";
      result.dataset.state = "open";
    }
  }

  function resetFrame(letter) {
    // A fresh iframe: the old preview stops running in this page, and no stale app shows for a moment.
    const frame = part(letter, "preview");
    const fresh = frame.cloneNode(false);
    fresh.removeAttribute("src");
    delete fresh.dataset.build;
    fresh.hidden = true;
    frame.replaceWith(fresh);
  }

  // --- actions --------------------------------------------------------------------------------------

  function castVote(choice) {
    if (!state || !state.can_vote || voting) return;
    voting = true;
    showError("");
    renderVote();
    post(`/projects/${projectId}/turns/${state.turn}/vote/`, { choice, reason: el("sbs-reason").value })
      .then(({ ok, data }) => {
        if (!ok) { showError(data.error || "Kiln could not record this vote. Try again."); return; }
        state = data;
        dialog.dispatchEvent(new CustomEvent("kiln:voted", { bubbles: true, detail: {
          turn: state.turn, vote: state.vote, generations: state.sides.map((s) => s.generation) } }));
      })
      .catch(() => showError("Kiln could not record this vote: no answer from the server. Try again."))
      .finally(() => { voting = false; render(); schedule(); });
  }

  el("sbs-vote").addEventListener("submit", (event) => event.preventDefault());
  for (const b of dialog.querySelectorAll("[data-choice]")) {
    b.addEventListener("click", () => castVote(b.dataset.choice));
  }
  el("sbs-blind").addEventListener("change", (event) => {
    post("/compare/blind/", { blind: event.target.checked ? "on" : "off" })
      .then(({ ok, data }) => { if (!ok) showError(data.error); else load(); })
      .catch(() => showError("Could not change blind mode. Try again."));
  });
  el("sbs-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { clearTimeout(timer); });
  dialog.addEventListener("keydown", (event) => {
    const typing = event.target.closest(TEXT_BOXES);
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const choice = KEYS[event.key];
    if (choice) { event.preventDefault(); castVote(choice); }
  });
  document.addEventListener("kiln:compare", (event) => open(event.detail.turn));
})();
