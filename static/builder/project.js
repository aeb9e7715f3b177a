// Kiln's project page: one websocket, a chat of turns, the files as they stream, and the preview.
// The server sends the project's state on connect, then numbered frames per generation. We keep the
// last seq seen per generation, so after a dropped connection we resume exactly where we stopped.
(function () {
  "use strict";

  const root = document.getElementById("app");
  const projectId = root.dataset.project;
  const el = (id) => document.getElementById(id);

  const generations = new Map(); // id -> generation state
  const turns = new Map(); // id -> {id, prompt, generationIds: []}
  let selectedId = null; // generation shown in the files and preview panes
  let selectedPath = null;
  let socket = null;
  let retryMs = 500;

  // --- state ---------------------------------------------------------------------------------------

  // A snapshot (from "state" or "generation") carries `seq`: the stream position it already includes.
  // A running generation's snapshot has seq 0 and no files yet; then what we streamed is newer.
  function upsertGeneration(g) {
    const existing = generations.get(g.id) || { seq: 0, order: [], writing: null, issues: [] };
    if (existing.seq > (g.seq || 0)) {
      for (const streamed of ["files", "explanation", "seq"]) delete g[streamed];
    }
    const merged = Object.assign(existing, g);
    merged.files = merged.files || {};
    for (const path of Object.keys(merged.files)) if (!merged.order.includes(path)) merged.order.push(path);
    generations.set(g.id, merged);
    if (!turns.has(g.turn)) turns.set(g.turn, { id: g.turn, prompt: g.prompt, generationIds: [] });
    const turn = turns.get(g.turn);
    if (!turn.generationIds.includes(g.id)) turn.generationIds.push(g.id);
    return merged;
  }

  function isLive(g) {
    const buildOpen = !g.build || !g.build.final;
    return g.status === "queued" || g.status === "running" || (g.status === "done" && buildOpen);
  }

  const CONTENT_KINDS = ["status", "text", "file_start", "file_delta", "file_done", "edit", "file_delete",
                         "protocol_error", "reset"];

  function applyFrame(g, f) {
    if (f.seq <= g.seq) return; // already applied (a resend after reconnect)
    g.seq = f.seq;
    // A finished generation's snapshot came whole from the database; only build news can follow.
    if (["done", "failed", "cancelled"].includes(g.status) && CONTENT_KINDS.includes(f.kind)) return;
    switch (f.kind) {
      case "status": // "queued" again after its whole worker died: say so until the restart
        g.status = f.status;
        if (f.message) g.restarted = f.message;
        break;
      case "text": g.explanation = (g.explanation || "") + f.text; break;
      case "file_start":
        g.files = g.files || {};
        g.files[f.path] = "";
        if (!g.order.includes(f.path)) g.order.push(f.path);
        g.writing = f.path;
        if (g.id === selectedId) selectedPath = f.path; // follow the file being written
        break;
      case "file_delta": g.files[f.path] = (g.files[f.path] || "") + f.text; break;
      case "file_done": g.writing = null; break;
      case "edit": // shown as its diff while streaming; the whole file arrives with the done state
        g.files[f.path] = f.diff;
        if (!g.order.includes(f.path)) g.order.push(f.path);
        if (g.id === selectedId) selectedPath = f.path;
        break;
      case "file_delete":
        delete g.files[f.path];
        g.order = g.order.filter((path) => path !== f.path);
        g.issues.push(`Deleted ${f.path}`);
        break;
      case "protocol_error": g.issues.push(f.message); break;
      case "repair": g.notice = f.message; break;
      case "repair_gave_up": g.error = f.message; break;
      case "done": g.status = "done"; g.version = f.version; break;
      case "failed": g.status = "failed"; g.error = f.message; break;
      case "cancelled": g.status = "cancelled"; g.error = f.message; g.writing = null; break;
      case "reset": // the worker died and another one starts over: drop what the first one wrote
        Object.assign(g, { files: {}, order: [], explanation: "", issues: [], writing: null, restarted: f.message });
        break;
      case "build":
        g.build = Object.assign({}, g.build && g.build.id === f.build ? g.build : {}, {
          id: f.build, status: f.status, step: f.step, message: f.message, final: !!f.final,
        });
        if (f.preview_url) g.build.preview_url = f.preview_url;
        if (f.scores) Object.assign(g.build, { scores: f.scores, smoke_passed: f.step === "smoke test passed" });
        break;
    }
  }

  // --- rendering ------------------------------------------------------------------------------------

  function statusLabel(g) {
    if (g.status === "queued") return "Queued";
    if (g.status === "running") return g.writing ? `Writing ${g.writing}…` : "Thinking…";
    if (g.status === "failed") return "Failed";
    if (g.status === "cancelled") return "Stopped";
    return `${g.order.length} files`;
  }

  function renderChat() {
    const list = el("turns");
    list.replaceChildren();
    for (const turn of turns.values()) {
      const li = document.createElement("li");
      li.className = "turn";
      const you = document.createElement("div");
      you.className = "bubble you";
      you.textContent = turn.prompt;
      li.append(you);
      const tabs = document.createElement("div");
      tabs.className = "candidates";
      for (const gid of turn.generationIds) {
        const g = generations.get(gid);
        const tab = document.createElement("button");
        tab.className = "candidate" + (gid === selectedId ? " selected" : "");
        tab.dataset.generation = gid;
        tab.dataset.status = g.status;
        const label = g.kind === "repair" ? "Repair" : `Candidate ${g.candidate}`;
        tab.innerHTML = `<b>${label}</b> <span class="muted">${statusLabel(g)}</span>` +
          (g.verdict ? ` <span class="verdict ${g.verdict}">${g.verdict}ed</span>` : "");
        tab.addEventListener("click", () => select(gid));
        tabs.append(tab);
      }
      li.append(tabs);
      const g = generations.get(turn.generationIds.includes(selectedId) ? selectedId : turn.generationIds.at(-1));
      const kiln = document.createElement("div");
      kiln.className = "bubble kiln";
      kiln.dataset.testid = "explanation";
      kiln.textContent = (g.explanation || "").trim() || (g.status === "failed" ? "" : "…");
      li.append(kiln);
      if (g.restarted && isLive(g)) li.append(note("warn", g.restarted));
      if (g.notice) li.append(note("warn", g.notice));
      for (const issue of g.issues) li.append(note("warn", issue));
      if (g.error) li.append(note("error", g.error));
      list.append(li);
    }
    list.scrollTop = list.scrollHeight;
  }

  function note(kind, text) {
    const p = document.createElement("p");
    p.className = `note ${kind}`;
    p.textContent = text;
    return p;
  }

  function renderFiles() {
    const g = generations.get(selectedId);
    const list = el("file-list");
    list.replaceChildren();
    if (!g) return;
    if (!selectedPath || !(selectedPath in (g.files || {}))) selectedPath = g.order[0] || null;
    for (const path of g.order) {
      const li = document.createElement("li");
      li.className = "file" + (path === selectedPath ? " selected" : "") + (path === g.writing ? " writing" : "");
      li.dataset.path = path;
      li.textContent = path;
      li.addEventListener("click", () => { selectedPath = path; renderFiles(); });
      list.append(li);
    }
    el("files-note").textContent = g.writing ? `writing ${g.writing}` : "";
    el("file-code").textContent = selectedPath ? g.files[selectedPath] : "";
  }

  const BUILD_LABELS = { queued: "Queued", building: "Building", ready: "Ready", failed: "Failed" };

  function renderPreview() {
    const g = generations.get(selectedId);
    const status = el("build-status");
    const message = el("build-message");
    const frame = el("preview");
    const build = g && g.build;
    if (!build) {
      status.dataset.status = g && g.status === "failed" ? "failed" : "none";
      status.textContent = g && g.status === "failed" ? "Nothing to build" : g ? "Waiting for files" : "No build yet";
      message.hidden = !(g && g.status === "failed");
      message.textContent = g && g.error ? g.error : "";
    } else {
      status.dataset.status = build.status;
      status.textContent = BUILD_LABELS[build.status] + (build.status === "building" && build.step ? `: ${build.step}` : "");
      message.hidden = build.status !== "failed";
      message.textContent = build.message || "";
    }
    renderChecks(build);
    const url = build && build.status === "ready" ? build.preview_url : null;
    if (url && frame.dataset.build !== String(build.id)) {
      frame.dataset.build = String(build.id);
      frame.src = url;
    } else if (!url && frame.dataset.build) {
      delete frame.dataset.build;
      frame.removeAttribute("src");
    }
    el("actions").hidden = !g || !["done", "failed", "cancelled"].includes(g.status);
    // Only an answer that became a version can be judged; the server refuses the rest too.
    const judgeable = !!g && g.status === "done";
    el("accept").hidden = !judgeable;
    el("reject").hidden = !judgeable;
    if (!judgeable) el("reject-form").hidden = true;
    el("stop").hidden = !g || !["queued", "running"].includes(g.status);
  }

  // The smoke test's verdict under the preview: what passed, and why a preview is blank.
  function renderChecks(build) {
    const checks = el("checks");
    checks.replaceChildren();
    checks.hidden = !build || build.status !== "ready";
    if (checks.hidden) return;
    if (build.smoke_passed === undefined || build.smoke_passed === null) {
      checks.dataset.state = "running";
      checks.textContent = "Checking the app in a browser…";
      return;
    }
    const scores = build.scores || {};
    checks.dataset.state = build.smoke_passed ? "passed" : "failed";
    const summary = scores.message || build.smoke_message ||
      (build.smoke_passed ? "Smoke test passed" : "Smoke test failed: see the build log");
    checks.append(document.createTextNode(summary));
    if (build.screenshot_url) {
      const link = document.createElement("a");
      link.href = build.screenshot_url;
      link.target = "_blank";
      link.textContent = "screenshot";
      checks.append(" · ", link);
    }
  }

  function render() { renderChat(); renderFiles(); renderPreview(); }

  function select(gid) { selectedId = gid; selectedPath = null; render(); }

  // --- socket ---------------------------------------------------------------------------------------

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    else showConnection("offline", "Not connected — retrying…");
  }

  function showConnection(state, text) {
    const c = el("connection");
    c.dataset.state = state;
    c.textContent = text;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/projects/${projectId}/`);
    socket.addEventListener("open", () => { retryMs = 500; showConnection("open", "Connected"); });
    socket.addEventListener("close", (event) => {
      promptNotTaken(null); // a prompt in flight may never have reached the server: keep its text
      if (event.code === 4401 || event.code === 4404) {
        showConnection("closed", "You cannot open this project. Log in again.");
        return;
      }
      showConnection("offline", "Connection lost — reconnecting…");
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 8000);
    });
    socket.addEventListener("message", (event) => onMessage(JSON.parse(event.data)));
  }

  function onMessage(m) {
    if (m.type === "state") {
      for (const turn of m.turns) for (const g of turn.generations) upsertGeneration(g);
      for (const g of generations.values()) if (isLive(g)) send({ type: "subscribe", generation: g.id, after: g.seq });
      if (selectedId === null && generations.size) selectedId = [...generations.keys()].at(-1);
    } else if (m.type === "generation") {
      upsertGeneration(m.generation);
      if (m.select) selectedId = m.generation.id; // a new turn or candidate: show it
    } else if (m.type === "frame") {
      const g = generations.get(m.generation);
      if (g) applyFrame(g, m);
    } else if (m.type === "prompt_accepted") {
      promptTaken(m.ref);
    } else if (m.type === "error") {
      if (m.ref && pendingPrompt && m.ref === pendingPrompt.ref) promptNotTaken(m.message);
      else alertBox(m.message);
    }
    render();
  }

  function alertBox(text) {
    const box = el("build-message");
    box.hidden = false;
    box.textContent = text;
  }

  // --- actions --------------------------------------------------------------------------------------

  // The prompt box keeps its text until the server says it stored the turn (prompt_accepted with our
  // ref): a prompt sent while offline, refused, or lost with a dropped socket can be sent again.
  let pendingPrompt = null; // {ref, text} of the prompt the server has not yet confirmed

  function newRef() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Math.random().toString(36).slice(2) + Date.now().toString(36);
  }

  function promptTaken(ref) {
    if (!pendingPrompt || ref !== pendingPrompt.ref) return;
    // Clear only what was sent: text typed while we waited is the user's next prompt.
    if (el("prompt").value.trim() === pendingPrompt.text) el("prompt").value = "";
    pendingPrompt = null;
    el("send").disabled = false;
  }

  function promptNotTaken(message) {
    if (!pendingPrompt) return;
    pendingPrompt = null;
    el("send").disabled = false;
    if (message) alertBox(message);
  }

  el("prompt-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = el("prompt").value.trim();
    if (!text || pendingPrompt) return;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      showConnection("offline", "Not connected — your prompt is kept; send it again when connected.");
      return;
    }
    pendingPrompt = { ref: newRef(), text };
    el("send").disabled = true;
    send({ type: "prompt", text, compare: el("compare").checked, ref: pendingPrompt.ref });
  });
  el("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) el("prompt-form").requestSubmit();
  });
  el("stop").addEventListener("click", () => send({ type: "cancel", generation: selectedId }));
  el("accept").addEventListener("click", () => send({ type: "feedback", generation: selectedId, verdict: "accept" }));
  el("reject").addEventListener("click", () => { el("reject-form").hidden = false; el("reject-reason").focus(); });
  el("reject-form").addEventListener("submit", (event) => {
    event.preventDefault();
    send({ type: "feedback", generation: selectedId, verdict: "reject", reason: el("reject-reason").value });
    el("reject-form").hidden = true;
    el("reject-reason").value = "";
  });
  el("regenerate").addEventListener("click", () => {
    const g = generations.get(selectedId);
    if (g) send({ type: "regenerate", turn: g.turn });
  });

  connect();
})();
