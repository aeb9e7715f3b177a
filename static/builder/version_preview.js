// History's "Preview this version": any version's live preview, started on demand, beside the current
// one (builder.version_previews). project.js's versions list sends a `kiln:version-preview` event with
// the version; this file asks the server (POST, owner-scoped), polls the state while it builds, and shows
// the app in an iframe under the list, labelled as an old version. Nothing here changes the current
// version, and the Preview pane keeps showing the current app.
(function () {
  "use strict";
  const app = document.getElementById("app");
  const history = document.getElementById("history");
  if (!app || !history) return;
  const projectId = app.dataset.project;
  const POLL_MS = 1500;
  const FAILED = "Could not start this version's preview. Try again.";
  const STATUS_WORDS = {
    waiting: "Waiting for a build slot…", queued: "Queued…", building: "Building this version…",
    ready: "Live", failed: "Its build failed", stopped: "Its preview was stopped: press Preview again to restart it",
  };

  const box = document.createElement("section");
  box.className = "version-preview";
  box.id = "version-preview";
  box.hidden = true;
  box.setAttribute("aria-labelledby", "version-preview-title");
  box.innerHTML = `
    <div class="version-preview-head">
      <b id="version-preview-title"></b>
      <span class="badge old-version" id="version-preview-badge"></span>
      <span class="spacer"></span>
      <button type="button" class="link" id="version-preview-close">Close preview</button>
    </div>
    <p class="note muted" id="version-preview-note" role="status"></p>
    <iframe id="version-preview-frame" sandbox="allow-scripts allow-forms allow-same-origin allow-modals"
      referrerpolicy="no-referrer" hidden></iframe>`;
  history.append(box);
  const frame = box.querySelector("#version-preview-frame");
  const title = box.querySelector("#version-preview-title");
  const badge = box.querySelector("#version-preview-badge");
  const note = box.querySelector("#version-preview-note");
  let shown = null; // {version, number, buildId}
  let timer = null;

  function csrfToken() {
    const bar = document.getElementById("edit-bar");
    return bar ? bar.dataset.csrf : "";
  }

  function url(versionId) { return `/projects/${projectId}/versions/${versionId}/preview/`; }

  function request(versionId, method) {
    const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method === "POST") options.headers["X-CSRFToken"] = csrfToken();
    return fetch(url(versionId), options).then((r) => r.json().catch(() => ({})).then((body) => {
      if (!r.ok) throw new Error(body.error || FAILED);
      return body;
    }));
  }

  function render(state) {
    if (!shown || shown.version !== state.version) return;
    title.textContent = `Version ${state.number}`;
    badge.textContent = state.current ? "current version" : "old version, not current";
    badge.dataset.current = String(state.current);
    const build = state.build;
    let words = build ? (STATUS_WORDS[build.status] || build.status) : "Not built";
    if (build && build.status === "failed" && build.message) words += `: ${build.message}`;
    note.textContent = state.current
      ? `${words}. This is the current version, the one the Preview pane shows.`
      : `${words}. The current version is still version ${state.current_number}; this preview changes nothing` +
        " (it runs on a copy of the app's data, thrown away when it stops). Restore makes it current.";
    const live = build && build.status === "ready" && build.preview_url;
    if (live && shown.buildId !== build.id) {
      shown.buildId = build.id;
      frame.src = build.preview_url; // a fresh ticket only when the build changes
    }
    // The versions list shows each version's newest build: reload it when this one is live and when
    // its smoke verdict and screenshot are in (the History tab's own action).
    const step = build ? `${build.id}:${build.status === "ready"}:${state.settled}` : "";
    if (step !== shown.step && !history.hidden) document.getElementById("tab-history").click();
    shown.step = step;
    frame.hidden = !live;
    frame.title = `Live preview of version ${state.number}` + (state.current ? " (current)" : " (old version, not current)");
    if (!state.settled) timer = setTimeout(() => poll(state.version), POLL_MS);
  }

  function poll(versionId) {
    timer = null;
    request(versionId, "GET").then(render).catch((error) => { note.textContent = error.message; });
  }

  function open(v) {
    clearTimeout(timer);
    const view = document.getElementById("history-view");
    if (view && !view.hidden) document.getElementById("history-view-close").click(); // one view at a time
    shown = { version: v.id, number: v.number, buildId: null };
    box.hidden = false;
    frame.hidden = true;
    frame.removeAttribute("src");
    title.textContent = `Version ${v.number}`;
    badge.textContent = v.current ? "current version" : "old version, not current";
    note.textContent = "Starting its preview…";
    request(v.id, "POST").then(render).catch((error) => { note.textContent = error.message; });
    box.scrollIntoView({ block: "nearest" });
  }

  function close() {
    clearTimeout(timer);
    shown = null;
    box.hidden = true;
    frame.removeAttribute("src");
  }

  box.querySelector("#version-preview-close").addEventListener("click", close);
  document.addEventListener("kiln:version-preview", (event) => open(event.detail));
})();
