// Kiln's project page: one websocket, a chat of turns, the files as they stream, and the preview.
// The server sends the project's state on connect, then numbered frames per generation. We keep the
// last seq seen per generation, so after a dropped connection we resume exactly where we stopped.
// That state is bounded whatever the project holds: the latest turns, a version's files listed by path,
// size and hash. Earlier turns, a turn in full and a file's content are fetched over HTTP when the
// user asks for them (a file's content by its hash, cached for good).
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
  let earlierTurns = 0; // turns older than the oldest one loaded, fetched with "Show earlier turns"
  let loadingEarlier = false;
  let scrollToKeep = null; // distance from the bottom of the chat to restore after turns are prepended
  const blobs = new Map(); // sha256 -> file content fetched over HTTP (in insertion order, for eviction)
  const BLOBS_KEPT = 64;
  const blobsLoading = new Set();
  const blobsFailed = new Set();
  const turnsLoading = new Set();

  // --- state ---------------------------------------------------------------------------------------

  // A snapshot (from "state", "generation" or an HTTP page) carries `seq`: the stream position it
  // already includes. A running generation's snapshot has seq 0 and no files yet; then what we streamed
  // is newer. A version's file list (path, size, sha256) never changes, so it always applies; `files`
  // keeps only text that came from the stream, shown until the stored content has been fetched.
  function upsertGeneration(g) {
    const existing = generations.get(g.id) ||
      { seq: 0, order: [], files: {}, manifest: null, writing: null, issues: [] };
    const listing = g.files || [];
    delete g.files;
    if (existing.seq > (g.seq || 0)) {
      for (const streamed of ["explanation", "explanation_truncated", "seq"]) delete g[streamed];
    }
    if (g.version && (existing.version !== g.version || !existing.manifest ||
                      listing.length > Object.keys(existing.manifest).length)) {
      existing.manifest = Object.fromEntries(listing.map((f) => [f.path, f]));
      existing.order = listing.map((f) => f.path);
    }
    const merged = Object.assign(existing, g);
    generations.set(g.id, merged);
    const turn = upsertTurn({ id: g.turn, prompt: g.prompt, prompt_truncated: g.prompt_truncated });
    if (!turn.generationIds.includes(g.id)) {
      turn.generationIds.push(g.id);
      turn.generationIds.sort((a, b) => a - b); // a whole turn fetched later brings older candidates
    }
    turn.generationCount = Math.max(turn.generationCount, turn.generationIds.length);
    return merged;
  }

  function upsertTurn(t) {
    if (!turns.has(t.id)) turns.set(t.id, { id: t.id, prompt: "", promptTruncated: false, generationIds: [], generationCount: 0 });
    const turn = turns.get(t.id);
    // A clipped prompt never replaces a whole one.
    if (t.prompt !== undefined && (!turn.prompt || turn.promptTruncated)) {
      turn.prompt = t.prompt;
      turn.promptTruncated = !!t.prompt_truncated;
    }
    if (t.generation_count) turn.generationCount = Math.max(turn.generationCount, t.generation_count);
    return turn;
  }

  // Turns and their generations from the socket's state or an HTTP page.
  function loadTurns(list) {
    for (const t of list) {
      upsertTurn(t);
      for (const g of t.generations) upsertGeneration(g);
    }
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then((r) => {
      if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
      return r.json();
    });
  }

  function follow(g) {
    if (isLive(g)) send({ type: "subscribe", generation: g.id, after: g.seq });
  }

  function loadEarlierTurns() {
    if (loadingEarlier || !turns.size) return;
    loadingEarlier = true;
    const oldest = Math.min(...turns.keys());
    getJSON(`/projects/${projectId}/turns/?before=${oldest}`).then(addEarlierTurns).catch(() => alertBox("Could not load earlier turns. Try again.")).finally(() => {
      loadingEarlier = false;
      render();
    });
  }

  // A page of turns older than those loaded: {turns, earlier_turns}.
  function addEarlierTurns(page) {
    const list = el("turns");
    scrollToKeep = list.scrollHeight - list.scrollTop;
    loadTurns(page.turns);
    earlierTurns = page.earlier_turns;
    for (const t of page.turns) for (const g of t.generations) follow(generations.get(g.id));
  }

  // A turn in full: every candidate, whole prompt and explanations, complete file lists.
  function loadWholeTurn(turnId) {
    if (turnsLoading.has(turnId)) return;
    turnsLoading.add(turnId);
    turns.get(turnId).wholeAsked = true;
    getJSON(`/projects/${projectId}/turns/${turnId}/`).then((t) => {
      loadTurns([t]);
      for (const g of t.generations) follow(generations.get(g.id));
      turns.get(turnId).whole = true;
    }).catch(() => alertBox("Could not load this turn. Try again.")).finally(() => {
      turnsLoading.delete(turnId);
      render();
    });
  }

  function blobUrl(g, sha) { return `/projects/${projectId}/versions/${g.version}/blobs/${sha}`; }

  function loadBlob(g, entry) {
    const sha = entry.sha256;
    if (blobsLoading.has(sha)) return;
    blobsLoading.add(sha);
    blobsFailed.delete(sha);
    fetch(blobUrl(g, sha), { credentials: "same-origin" }).then((r) => {
      if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
      return r.text();
    }).then((text) => {
      blobs.set(sha, text);
      if (blobs.size > BLOBS_KEPT) blobs.delete(blobs.keys().next().value); // the HTTP cache keeps it too
    }).catch(() => blobsFailed.add(sha)).finally(() => {
      blobsLoading.delete(sha);
      renderFiles();
    });
  }

  // What the file pane shows for `path`: the stored content once fetched; until then what streamed.
  function fileText(g, path) {
    const entry = g.manifest && g.manifest[path];
    if (!entry) return g.files[path] || "";
    if (blobs.has(entry.sha256)) return blobs.get(entry.sha256);
    if (blobsFailed.has(entry.sha256)) return path in g.files ? g.files[path] : "Could not load this file. Click its name to try again.";
    loadBlob(g, entry);
    return path in g.files ? g.files[path] : "Loading…";
  }

  function sizeLabel(bytes) {
    if (bytes < 1000) return `${bytes} B`;
    return bytes < 1e6 ? `${Math.round(bytes / 1000)} KB` : `${(bytes / 1e6).toFixed(1)} MB`;
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
      case "status": // running; "waiting" its turn (fair use); "queued" again after its worker died
        g.status = f.status;
        g.position = f.position;
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
        if (f.smoke_status) g.build.smoke_status = f.smoke_status;
        else if (f.final) delete g.build.smoke_status; // the state that follows brings the verdict
        if (f.scores) Object.assign(g.build, { scores: f.scores, smoke_passed: f.step === "smoke test passed" });
        break;
    }
  }

  // --- rendering ------------------------------------------------------------------------------------

  function statusLabel(g) {
    if (g.status === "waiting") return g.position ? `Waiting (#${g.position} in your line)` : "Waiting";
    if (g.status === "queued") return "Queued";
    if (g.status === "running") return g.writing ? `Writing ${g.writing}…` : "Thinking…";
    if (g.status === "failed") return "Failed";
    if (g.status === "cancelled") return "Stopped";
    return `${g.file_count || g.order.length} files`;
  }

  function renderChat() {
    const list = el("turns");
    // Follow the conversation only when the reader is at its end; after "Show earlier turns" keep the
    // turns they were reading where they were.
    const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    const keep = scrollToKeep;
    const top = list.scrollTop;
    scrollToKeep = null;
    list.replaceChildren();
    if (earlierTurns > 0) {
      const li = document.createElement("li");
      li.className = "earlier";
      const more = document.createElement("button");
      more.className = "link";
      more.id = "earlier-turns";
      more.textContent = loadingEarlier ? "Loading earlier turns…" : `Show earlier turns (${earlierTurns})`;
      more.disabled = loadingEarlier;
      more.addEventListener("click", loadEarlierTurns);
      li.append(more);
      list.append(li);
    }
    for (const turn of [...turns.values()].sort((a, b) => a.id - b.id)) {
      if (!turn.generationIds.length) continue;
      const li = document.createElement("li");
      li.className = "turn";
      const you = document.createElement("div");
      you.className = "bubble you";
      you.textContent = turn.prompt + (turn.promptTruncated ? "…" : "");
      li.append(you);
      const tabs = document.createElement("div");
      tabs.className = "candidates";
      for (const gid of turn.generationIds) {
        const g = generations.get(gid);
        const tab = document.createElement("button");
        tab.className = "candidate" + (gid === selectedId ? " selected" : "");
        tab.dataset.generation = gid;
        tab.dataset.status = g.status;
        const label = g.kind === "repair" ? "Repair" : g.kind === "restore" ? "Restored"
          : g.kind === "edit" ? "Hand edit" : `Candidate ${g.candidate}`;
        tab.innerHTML = `<b>${label}</b> <span class="muted">${statusLabel(g)}</span>` +
          (g.verdict && !USER_MADE.includes(g.kind) ? ` <span class="verdict ${g.verdict}">${VERDICT_WORDS[g.verdict] || g.verdict}</span>` : "");
        tab.addEventListener("click", () => select(gid));
        tabs.append(tab);
      }
      li.append(tabs);
      if (turn.generationIds.some((id) => generations.get(id).kind === "compare")) {
        // Both candidates' previews next to each other, and the vote (static/builder/compare.js).
        const sideBySide = document.createElement("button");
        sideBySide.className = "link open-compare";
        sideBySide.dataset.turn = turn.id;
        sideBySide.textContent = "Compare side by side";
        sideBySide.addEventListener("click", () => openCompare(turn.id));
        li.append(sideBySide);
      }
      const g = generations.get(turn.generationIds.includes(selectedId) ? selectedId : turn.generationIds.at(-1));
      const kiln = document.createElement("div");
      kiln.className = "bubble kiln";
      kiln.dataset.testid = "explanation";
      kiln.textContent = (g.explanation || "").trim() + (g.explanation_truncated ? "…" : "") ||
        (g.status === "failed" ? "" : "…");
      if (kiln.textContent) li.append(kiln); // a failure with no words: its error says it (below)
      const changed = changeLine(g); // what this turn changed (hand edit section, below)
      if (changed) li.append(changed);
      const hidden = turn.generationCount - turn.generationIds.length;
      if (!turn.whole && (turn.promptTruncated || hidden > 0 || turn.generationIds.some(
        (id) => generations.get(id).explanation_truncated))) {
        const all = document.createElement("button");
        all.className = "link show-all";
        all.textContent = turnsLoading.has(turn.id) ? "Loading…"
          : hidden > 0 ? `Show all (${hidden} earlier candidates)` : "Show all";
        all.addEventListener("click", () => loadWholeTurn(turn.id));
        li.append(all);
      }
      if (g.restarted && isLive(g)) li.append(note("warn", g.restarted));
      if (g.notice) li.append(note("warn", g.notice));
      for (const issue of g.issues) li.append(note("warn", issue));
      if (g.error) li.append(note("error", g.error));
      const steps = nextSteps(g, turn); // what to try after a failure (below)
      if (steps) li.append(steps);
      list.append(li);
    }
    if (keep !== null) list.scrollTop = list.scrollHeight - keep;
    else list.scrollTop = atEnd ? list.scrollHeight : top;
  }

  // Failed turns say what to try, as buttons that do it: the model failed, was cut off or stopped, wrote
  // no files, or its app still did not build (or failed its smoke test) after the repairs. Not for a
  // restore or a hand edit (the hand edit's own "Ask the model to fix it" is under the preview), and not
  // while a repair of the turn is still under way.
  function nextSteps(g, turn) {
    if (USER_MADE.includes(g.kind) || g.id !== turn.generationIds.at(-1)) return null;
    const stopped = g.status === "cancelled";
    const broken = g.status === "done" && g.build && g.build.final &&
      (g.build.status === "failed" || g.build.smoke_status === "failed");
    if (g.status !== "failed" && !stopped && !broken) return null;
    const box = document.createElement("div");
    box.className = "next-steps";
    box.append(span("muted", "What to try:"));
    box.append(button(stopped ? "Regenerate" : "Try again", () => send({ type: "regenerate", turn: turn.id })));
    box.append(button("Edit the prompt", () => {
      el("prompt").value = turn.prompt;
      el("prompt").focus();
    }));
    if (broken) box.append(button("Go back to an earlier version", () => { showTab("history"); el("undo").focus(); }));
    return box;
  }

  const VERDICT_WORDS = { accept: "accepted", reject: "rejected", pick: "picked", tie: "tie", both_bad: "both bad",
                          edit: "edited" };

  // The compare view (static/builder/compare.js) listens for this: one event, no shared state.
  function openCompare(turnId) {
    document.dispatchEvent(new CustomEvent("kiln:compare", { detail: { turn: turnId } }));
  }

  // A vote cast there names its verdict in the chat at once (the socket says so only with the next state).
  document.addEventListener("kiln:voted", (event) => {
    const { vote, generations: [a, b] } = event.detail;
    const g = generations.get(vote.choice === "b" ? b : a);
    if (!g) return;
    g.verdict = ["a", "b"].includes(vote.choice) ? "pick" : vote.choice;
    render();
  });

  function note(kind, text) {
    const p = document.createElement("p");
    p.className = `note ${kind}`;
    p.textContent = text;
    return p;
  }

  function renderFiles() {
    const g = generations.get(selectedId);
    const list = el("file-list");
    const hadFocus = list.contains(document.activeElement); // redrawn under the keyboard: keep its place
    list.replaceChildren();
    if (!g) return;
    if (!selectedPath || !g.order.includes(selectedPath)) selectedPath = g.order[0] || null;
    for (const path of g.order) {
      const li = document.createElement("li");
      li.className = "file" + (path === selectedPath ? " selected" : "") + (path === g.writing ? " writing" : "");
      li.dataset.path = path;
      li.textContent = path;
      const entry = g.manifest && g.manifest[path];
      if (entry) {
        const size = document.createElement("span");
        size.className = "muted";
        size.textContent = ` ${sizeLabel(entry.size)}`;
        li.append(size);
      }
      const choose = () => {
        selectedPath = path;
        if (entry) blobsFailed.delete(entry.sha256); // a click retries a file that failed to load
        renderFiles();
      };
      li.addEventListener("click", choose);
      li.tabIndex = 0; // reachable from the keyboard: Enter or Space opens the file
      li.setAttribute("role", "button");
      li.addEventListener("keydown", (event) => {
        if (event.key !== "Enter" && event.key !== " ") return;
        event.preventDefault();
        choose();
      });
      list.append(li);
    }
    if (hadFocus) list.querySelector(".file.selected")?.focus();
    // The summary lists a version's files up to a size; the rest come with the whole turn.
    if (g.version && g.file_count > g.order.length && !turns.get(g.turn).wholeAsked) loadWholeTurn(g.turn);
    el("files-note").textContent = g.writing ? `writing ${g.writing}` : "";
    showCode(el("file-code"), selectedPath ? fileText(g, selectedPath) : "", selectedPath || "",
             selectedPath === g.writing || !(g.manifest && g.manifest[selectedPath]));
    renderEditBar(g);
  }

  // Versions the user made (no model call): nothing to accept, reject or regenerate.
  const USER_MADE = ["restore", "edit"];

  const BUILD_LABELS = { waiting: "Waiting", queued: "Queued", building: "Building", ready: "Ready", failed: "Failed" };

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
    el("accept").hidden = !judgeable || USER_MADE.includes(g.kind);
    el("reject").hidden = !judgeable || USER_MADE.includes(g.kind);
    // A restore or a hand edit asked no model: nothing to regenerate.
    el("regenerate").hidden = !!g && USER_MADE.includes(g.kind);
    if (!judgeable) el("reject-form").hidden = true;
    el("stop").hidden = !g || !["queued", "running"].includes(g.status);
    renderBuildErrors(g, build);
  }

  // The smoke test's verdict under the preview: what passed, and why a preview is blank.
  function renderChecks(build) {
    const checks = el("checks");
    checks.replaceChildren();
    checks.hidden = !build || build.status !== "ready";
    if (checks.hidden) return;
    // smoke_status says "not scored" (the test itself could not run) and "skipped" apart from a verdict.
    const verdict = build.smoke_status ||
      (build.smoke_passed === true ? "passed" : build.smoke_passed === false ? "failed" : "pending");
    if (verdict === "pending") {
      checks.dataset.state = "running";
      checks.textContent = "Checking the app in a browser…";
      return;
    }
    if (verdict === "not_scored" || verdict === "skipped") {
      checks.dataset.state = verdict;
      checks.textContent = build.smoke_message || (verdict === "skipped" ? "Smoke test is off."
        : "The smoke test could not run, so this app was not scored.");
      return;
    }
    const scores = build.scores || {};
    const passed = verdict === "passed";
    checks.dataset.state = passed ? "passed" : "failed";
    const summary = scores.message || build.smoke_message ||
      (passed ? "Smoke test passed" : "Smoke test failed: see the build log");
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

  // Reconnecting: exponential backoff with jitter and a cap. The delay goes back to the first step only
  // after a connection stayed open RETRY_RESET_AFTER_MS: a server that accepts and then closes at once
  // (a crash in connect, an oversized message) must not be hammered by every open tab in a loop.
  const RETRY_FIRST_MS = 500;
  const RETRY_MAX_MS = 30000;
  const RETRY_RESET_AFTER_MS = 10000;
  let failures = 0;
  let openedAt = null;

  function retryDelay() {
    const step = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** (failures - 1));
    return step / 2 + Math.random() * (step / 2); // "equal jitter": spread out, yet always growing
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/projects/${projectId}/`);
    socket.addEventListener("open", () => { openedAt = Date.now(); showConnection("open", "Connected"); });
    socket.addEventListener("close", (event) => {
      promptNotTaken(null); // a prompt in flight may never have reached the server: keep its text
      if (event.code === 4401 || event.code === 4404) {
        showConnection("closed", "You cannot open this project. Log in again.");
        return;
      }
      const stayedOpen = openedAt !== null && Date.now() - openedAt >= RETRY_RESET_AFTER_MS;
      openedAt = null;
      failures = stayedOpen ? 1 : failures + 1;
      const delay = retryDelay();
      showConnection("offline", `Connection lost — reconnecting in ${Math.ceil(delay / 1000)} s…`);
      setTimeout(connect, delay);
    });
    socket.addEventListener("message", (event) => onMessage(JSON.parse(event.data)));
  }

  function onMessage(m) {
    if (m.type === "state") {
      const oldestLoaded = turns.size ? Math.min(...turns.keys()) : Infinity;
      loadTurns(m.turns);
      // After a reconnect, earlier turns already fetched over HTTP stay loaded and keep their count.
      if (!m.turns.length || oldestLoaded >= m.turns[0].id) earlierTurns = m.earlier_turns;
      for (const g of generations.values()) follow(g);
      if (selectedId === null && generations.size) selectedId = [...generations.keys()].at(-1);
    } else if (m.type === "generation") {
      upsertGeneration(m.generation);
      if (m.select) selectedId = m.generation.id; // a new turn or candidate: show it
      if (m.select && m.generation.kind === "compare") openCompare(m.generation.turn); // "Compare two" was sent
    } else if (m.type === "frame") {
      const g = generations.get(m.generation);
      if (g) applyFrame(g, m);
    } else if (m.type === "turns") {
      addEarlierTurns(m);
    } else if (m.type === "prompt_accepted") {
      promptTaken(m.ref);
    } else if (m.type === "error") {
      if (m.ref && pendingPrompt && m.ref === pendingPrompt.ref) promptNotTaken(m.message);
      else if (m.ref && m.ref.startsWith(HISTORY_REF)) historyError(m.message);
      else alertBox(m.message);
    }
    if (m.type === "generation" || m.type === "state") versionsChanged();
    render();
    if (m.type === "state" && !root.dataset.ready) {
      root.dataset.ready = "true"; // the latest turns are on screen: the page is usable
      performance.mark("kiln:state-rendered");
    }
  }

  function alertBox(text) {
    // Beside the prompt box: render() redraws the preview pane's own message from the selected build.
    const box = el("prompt-error");
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
    // Beside the prompt, not in the preview pane: render() redraws that from the selected generation.
    el("prompt-error").textContent = message || "";
    el("prompt-error").hidden = !message;
  }

  el("prompt-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = el("prompt").value.trim();
    if (!text || pendingPrompt) return;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      showConnection("offline", "Not connected — your prompt is kept; send it again when connected.");
      return;
    }
    el("prompt-error").hidden = true;
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

  // --- history: versions, restore and undo, a version's files, diffs, downloads ------------------------
  // The History tab lists every version newest first (over HTTP, owner-scoped). Opening a version or
  // its changes never changes the current version; Restore and Undo go over the socket, and the new
  // version arrives as a generation like any other (its turn in the chat, its build in the preview).

  const HISTORY_REF = "history:";
  let versions = []; // newest first, from /versions/
  let versionsLoading = false;
  let versionsStale = false;
  const picked = []; // up to two version ids to compare
  let opened = null; // {kind: "files" | "diff", ...} shown under the list

  function showTab(name) {
    const history = name === "history";
    el("tab-files").classList.toggle("selected", !history);
    el("tab-history").classList.toggle("selected", history);
    el("tab-files").setAttribute("aria-selected", String(!history));
    el("tab-history").setAttribute("aria-selected", String(history));
    el("files-body").hidden = history;
    el("history").hidden = !history;
    if (history) loadVersions();
  }

  function historyOpen() { return !el("history").hidden; }

  function historyError(text) {
    el("history-error").hidden = !text;
    el("history-error").textContent = text || "";
  }

  // New generations and finished builds change the list: reload it if it is on screen (one at a time).
  function versionsChanged() {
    if (historyOpen()) loadVersions();
    else versionsStale = true;
  }

  function loadVersions() {
    if (versionsLoading) { versionsStale = true; return; }
    versionsLoading = true;
    versionsStale = false;
    getJSON(`/projects/${projectId}/versions/`).then((page) => {
      versions = page.versions;
      renderVersions();
    }).catch(() => historyError("Could not load the versions. Try again.")).finally(() => {
      versionsLoading = false;
      if (versionsStale && historyOpen()) loadVersions();
    });
  }

  const SOURCE_LABELS = { generation: "generation", repair: "repair", restore: "restore", edit: "hand edit" };

  const HISTORY_BUILD_LABELS = Object.assign({}, BUILD_LABELS, { waiting: "Waiting", stopped: "Built, preview stopped" });

  function buildBadge(build) {
    const badge = document.createElement("span");
    badge.className = "badge build";
    if (!build) { badge.textContent = "not built"; return badge; }
    const smoke = build.smoke_status === "passed" ? "smoke test passed"
      : build.smoke_status === "failed" ? "smoke test failed"
      : build.smoke_status === "not_scored" ? "not scored" : build.smoke_status === "skipped" ? "smoke test off" : "";
    // An older version's preview is stopped (only the newest run): its build and verdict still count.
    badge.dataset.state = smoke ? build.smoke_status : build.status;
    badge.textContent = (HISTORY_BUILD_LABELS[build.status] || build.status) + (smoke ? ` · ${smoke}` : "");
    return badge;
  }

  function span(className, text) {
    const s = document.createElement("span");
    s.className = className;
    s.textContent = text;
    return s;
  }

  function button(text, onClick, className = "") {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    if (className) b.className = className;
    b.addEventListener("click", onClick);
    return b;
  }

  function renderVersions() {
    const list = el("versions");
    list.replaceChildren();
    for (const v of versions) {
      const li = document.createElement("li");
      li.className = "version" + (v.current ? " current" : "") +
        (opened && opened.version === v.id ? " opened" : "");
      li.dataset.version = v.id;
      li.dataset.number = v.number;
      let thumb;
      if (v.build && v.build.screenshot_url) {
        thumb = document.createElement("img");
        thumb.src = v.build.screenshot_url;
        thumb.alt = `Screenshot of version ${v.number}`;
        thumb.loading = "lazy";
      } else {
        thumb = document.createElement("div");
        thumb.textContent = "no screenshot";
      }
      thumb.classList.add("thumb");
      const body = document.createElement("div");
      const head = document.createElement("div");
      head.className = "version-head";
      const source = span("badge source", SOURCE_LABELS[v.source] || v.source);
      source.dataset.source = v.source;
      head.append(span("version-number", `Version ${v.number}`), source, buildBadge(v.build));
      if (v.current) head.append(span("badge current", "current"));
      const when = span("muted", new Date(v.created_at).toLocaleString());
      head.append(when);
      const prompt = document.createElement("div");
      prompt.className = "version-prompt";
      prompt.textContent = v.prompt;
      prompt.title = v.prompt;
      const actions = document.createElement("div");
      actions.className = "version-actions";
      actions.append(
        button("Files", () => openFiles(v)),
        button("Changes", () => openDiff(v, null)),
      );
      // Its live app, beside the current one (version_preview.js): the current version does not change.
      actions.append(button("Preview this version", () => document.dispatchEvent(new CustomEvent("kiln:version-preview", { detail: v })), "preview-version"));
      if (!v.same_as_current) actions.append(button("Restore", () => restore(v), "restore"));
      const zip = document.createElement("a");
      zip.href = `/projects/${projectId}/versions/${v.id}/download.zip`;
      zip.textContent = "Download .zip";
      zip.setAttribute("download", "");
      const pick = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = picked.includes(v.id);
      box.addEventListener("change", () => togglePick(v.id, box.checked));
      pick.append(box, "pick");
      actions.append(zip, pick);
      body.append(head, prompt, actions);
      li.append(thumb, body);
      list.append(li);
    }
    renderPicked();
  }

  function togglePick(id, on) {
    const at = picked.indexOf(id);
    if (on && at < 0) picked.push(id);
    if (!on && at >= 0) picked.splice(at, 1);
    while (picked.length > 2) picked.shift(); // the two picked last
    renderVersions();
  }

  function renderPicked() {
    const compare = el("compare-picked");
    compare.textContent = `Compare picked (${picked.length} of 2)`;
    compare.disabled = picked.length !== 2;
  }

  function restore(v) {
    historyError("");
    send({ type: "restore", version: v.id, ref: `${HISTORY_REF}restore:${v.id}` });
  }

  function showOpened(title) {
    el("history-view").hidden = false;
    el("history-view-title").textContent = title;
    renderVersions();
  }

  // A version's files, read-only: the list, then the chosen file's content (fetched by its hash).
  function openFiles(v) {
    opened = { kind: "files", version: v.id, files: null, path: null };
    showOpened(`Version ${v.number}: files`);
    el("history-view-body").replaceChildren(note("muted", "Loading…"));
    getJSON(`/projects/${projectId}/versions/${v.id}/`).then((detail) => {
      if (!opened || opened.version !== v.id || opened.kind !== "files") return;
      opened.files = detail.files;
      opened.path = detail.files.length ? detail.files[0].path : null;
      renderOpenedFiles();
    }).catch(() => historyError("Could not load this version. Try again."));
  }

  function renderOpenedFiles() {
    const body = el("history-view-body");
    const list = document.createElement("ul");
    list.className = "file-list";
    for (const f of opened.files) {
      const li = document.createElement("li");
      li.className = "file" + (f.path === opened.path ? " selected" : "");
      li.textContent = f.path;
      li.append(span("muted", ` ${sizeLabel(f.size)}`));
      const choose = () => { opened.path = f.path; renderOpenedFiles(); };
      li.tabIndex = 0; // reachable from the keyboard: Enter or Space opens the file
      li.setAttribute("role", "button");
      li.addEventListener("click", choose);
      li.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); opened.keyboard = true; choose(); }
      });
      list.append(li);
    }
    const view = document.createElement("pre");
    view.className = "file-view";
    // It scrolls, so the keyboard reaches it: a named region, as the Files pane's.
    view.tabIndex = 0;
    view.setAttribute("role", "region");
    view.setAttribute("aria-label", "Content of the selected file");
    const code = document.createElement("code");
    view.append(code);
    body.replaceChildren(list, view);
    if (opened.keyboard) { list.querySelector(".file.selected").focus(); opened.keyboard = false; }
    const entry = opened.files.find((f) => f.path === opened.path);
    if (!entry) return;
    if (blobs.has(entry.sha256)) { showCode(code, blobs.get(entry.sha256), entry.path); return; }
    code.textContent = "Loading…";
    const version = opened.version;
    fetch(`/projects/${projectId}/versions/${version}/blobs/${entry.sha256}`, { credentials: "same-origin" })
      .then((r) => { if (!r.ok) throw new Error(r.statusText); return r.text(); })
      .then((text) => { if (opened && opened.version === version && opened.path === entry.path) showCode(code, text, entry.path); })
      .catch(() => { code.textContent = "Could not load this file. Click its name to try again."; });
  }

  // What changed: from the version's parent (against null) or from another picked version.
  function openDiff(v, against) {
    const title = against ? `Changes from version ${against.number} to version ${v.number}`
      : v.parent_number ? `Changes in version ${v.number} (from version ${v.parent_number})`
      : `Version ${v.number}: the first version`;
    opened = { kind: "diff", version: v.id };
    showOpened(title);
    el("history-view-body").replaceChildren(note("muted", "Loading…"));
    const query = against ? `?against=${against.id}` : "";
    getJSON(`/projects/${projectId}/versions/${v.id}/diff/${query}`).then((diff) => {
      if (!opened || opened.version !== v.id || opened.kind !== "diff") return;
      renderDiff(diff);
    }).catch(() => historyError("Could not load the changes. Try again."));
  }

  const STATUS_WORDS = { added: "added", removed: "removed", changed: "changed" };

  function renderDiff(diff) {
    const body = el("history-view-body");
    body.replaceChildren();
    const summary = document.createElement("p");
    summary.className = "note muted diff-summary";
    const counts = ["added", "removed", "changed"].map((s) => [s, diff.files.filter((f) => f.status === s).length]);
    summary.textContent = diff.files.length
      ? counts.filter(([, n]) => n).map(([s, n]) => `${n} ${STATUS_WORDS[s]}`).join(", ") + `, ${diff.unchanged} unchanged`
      : "No file changed.";
    body.append(summary);
    for (const f of diff.files) {
      const section = document.createElement("section");
      section.className = "diff-file";
      section.dataset.path = f.path;
      section.dataset.status = f.status;
      const head = document.createElement("div");
      head.className = "diff-file-head";
      head.append(span("path", f.path), span("muted", f.status), span("added", `+${f.added}`), span("removed", `−${f.removed}`));
      const pre = document.createElement("pre");
      pre.className = "diff";
      pre.append(...diffLines(f));
      if (f.truncated) pre.append(span("hunk", "… the rest of this file's changes are not shown"));
      section.append(head, pre);
      body.append(section);
    }
  }

  function showChanges(versionId) {
    showTab("history");
    getJSON(`/projects/${projectId}/versions/`).then((page) => {
      versions = page.versions;
      const v = versions.find((x) => x.id === versionId);
      if (v) openDiff(v, null);
    }).catch(() => historyError("Could not load the versions. Try again."));
  }

  el("tab-files").addEventListener("click", () => showTab("files"));
  el("tab-history").addEventListener("click", () => showTab("history"));
  el("undo").addEventListener("click", () => { historyError(""); send({ type: "undo", ref: `${HISTORY_REF}undo` }); });
  el("compare-picked").addEventListener("click", () => {
    const [a, b] = picked.map((id) => versions.find((v) => v.id === id)).sort((x, y) => x.id - y.id);
    if (a && b) openDiff(b, a);
  });
  el("history-view-close").addEventListener("click", () => {
    opened = null;
    el("history-view").hidden = true;
    renderVersions();
  });

  // --- hand edit, syntax highlighting, what each turn changed ---------------------------------------
  // CodeMirror (static/vendor/codemirror.js, bundled at set-up) edits a file and colours the read-only
  // views and diffs with the same highlighter. Without the bundle the page still works: plain text, and
  // Edit says why it is missing. Save posts the file (builder.edits); the new version arrives as a
  // generation like a restore's, followed on the socket; its build errors name file and line, and only
  // "Ask the model to fix it" sends them to the model.

  const editorLoaded = () => typeof window.KilnEditor === "object";
  const EDITOR_MISSING = "The code editor is not installed on this server (run ./kiln setup).";
  let editing = null; // {generation, version, path, original, handle, dirty, saving}
  let pendingLine = null; // {path, line}: open the editor there once the file's text is loaded
  // Bigger files (data tables, bundles) are shown plain: colouring them costs more than it helps.
  const HIGHLIGHT_MAX_CHARS = 100000;

  // Colour `text` into `code` unless it is still streaming (plain text until it is whole); skipped
  // when nothing changed since the last call, as render() runs on every frame.
  function showCode(code, text, path, streaming = false) {
    const key = `${path}\u0000${streaming ? "s" : "h"}`;
    if (code.__kilnKey === key && code.__kilnText === text) return;
    code.__kilnKey = key;
    code.__kilnText = text;
    if (streaming || !editorLoaded() || text.length > HIGHLIGHT_MAX_CHARS) {
      code.textContent = text;
      delete code.dataset.highlighted;
      return;
    }
    window.KilnEditor.highlight(code, text, path);
  }

  // A file's unified diff, each line coloured by the file's language (parsed together, so a line
  // keeps the context of the lines around it) after its +/- mark.
  function diffLines(f) {
    const body = f.lines.filter(([kind]) => kind !== "hunk").map(([, text]) => text.slice(1));
    const coloured = editorLoaded() ? window.KilnEditor.highlightLines(body, f.path) : null;
    let i = 0;
    return f.lines.map(([kind, text]) => {
      const line = document.createElement("span");
      line.className = kind;
      if (kind === "hunk" || !coloured) { line.textContent = text; return line; }
      line.append(text.slice(0, 1), ...coloured[i++]);
      return line;
    });
  }

  const CHANGE_WORDS = [["added", "Added"], ["edited", "Edited"], ["deleted", "Deleted"]];

  // Under a turn: what its version changed (files added, edited, deleted) and a link to the diff. While
  // the answer streams, what it has touched so far.
  function changeLine(g) {
    const box = document.createElement("div");
    box.className = "turn-changes";
    if (g.status === "done" && g.version && g.changes) {
      const parts = CHANGE_WORDS.filter(([name]) => g.changes[name].count).map(([name, word]) => {
        const c = g.changes[name];
        const more = c.count - c.paths.length;
        const part = span(`change ${name}`, `${word} ${c.paths.join(", ")}${more > 0 ? ` and ${more} more` : ""}`);
        part.dataset.count = c.count;
        return part;
      });
      if (!parts.length) parts.push(span("change none", "No file changed"));
      parts.forEach((part, i) => box.append(...(i ? [" · ", part] : [part])));
    } else if (g.status === "running" && g.order.length) {
      box.append(span("change live", `Writing ${g.order.join(", ")}`));
    } else if (!(g.status === "done" && g.version)) {
      return null;
    }
    if (g.status === "done" && g.version) {
      // What this turn changed, file by file, in the History tab (without changing the current version).
      const changes = document.createElement("button");
      changes.className = "link what-changed";
      changes.textContent = "What changed";
      changes.addEventListener("click", () => showChanges(g.version));
      box.append(" ", changes);
    }
    return box;
  }

  function csrfToken() { return el("edit-bar").dataset.csrf; }

  function postJSON(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    }).then((r) => r.json().catch(() => ({})).then((data) => {
      if (!r.ok) throw new Error(data.error || `${r.status} ${r.statusText}`);
      return data;
    }));
  }

  function editError(text) {
    el("edit-error").hidden = !text;
    el("edit-error").textContent = text || "";
  }

  // The bar above the file: Edit for a stored file of a finished answer; Save / Cancel while editing.
  function renderEditBar(g) {
    const bar = el("edit-bar");
    if (editing) {
      bar.hidden = false;
      el("edit-state").textContent = `${editing.isNew ? "New file" : "Editing"} ${editing.path} (from version ${editing.number || "?"})` +
        (editing.saving ? " — saving…" : editing.dirty ? " — not saved" : "");
      el("edit-file").hidden = el("new-file").hidden = true;
      el("edit-save").hidden = el("edit-cancel").hidden = false;
      el("edit-save").disabled = !!editing.saving || !editing.dirty;
      el("editor").hidden = false;
      el("file-view").hidden = true;
      return;
    }
    el("editor").hidden = true;
    el("file-view").hidden = false;
    el("edit-save").hidden = el("edit-cancel").hidden = true;
    const entry = g && selectedPath && g.manifest && g.manifest[selectedPath];
    const stored = !!g && g.status === "done" && !!g.version && g.writing === null;
    bar.hidden = !stored;
    if (!stored) return;
    el("new-file").hidden = false;
    el("edit-file").hidden = !entry;
    el("edit-state").textContent = "";
    if (!entry) return;
    el("edit-file").disabled = !blobs.has(entry.sha256);
    if (pendingLine && pendingLine.path === selectedPath && blobs.has(entry.sha256)) {
      const line = pendingLine.line;
      pendingLine = null;
      startEditing(g, line);
    }
  }

  function versionNumber(id) {
    const v = versions.find((x) => x.id === id);
    return v ? v.number : null;
  }

  // `newPath`: a file that is not in the version yet (the server says where one may be made).
  function startEditing(g, line, newPath = null) {
    editError("");
    if (!editorLoaded()) { editError(EDITOR_MISSING); return; }
    const path = newPath || selectedPath;
    const entry = g.manifest[path];
    if (!newPath && (!entry || !blobs.has(entry.sha256))) return;
    const text = newPath ? "" : blobs.get(entry.sha256);
    editing = { generation: g.id, version: g.version, path, original: text, dirty: false, isNew: !!newPath,
                number: versionNumber(g.version) };
    el("editor").replaceChildren();
    el("editor").hidden = false;
    editing.handle = window.KilnEditor.open(el("editor"), {
      path, text,
      onChange: (now) => { if (editing) { editing.dirty = now !== editing.original; renderEditBar(g); } },
      onSave: () => saveEdit(),
    });
    renderEditBar(g);
    if (line) editing.handle.goToLine(line); else editing.handle.focus();
    if (!editing.number) {
      getJSON(`/projects/${projectId}/versions/`).then((page) => {
        versions = page.versions;
        if (editing) { editing.number = versionNumber(editing.version); renderEditBar(g); }
      }).catch(() => {});
    }
  }

  function stopEditing() {
    if (editing && editing.handle) editing.handle.destroy();
    editing = null;
    el("editor").replaceChildren();
    editError("");
    renderFiles();
  }

  function saveEdit() {
    if (!editing || editing.saving || !editing.dirty) return;
    editing.saving = true;
    editError("");
    renderEditBar(generations.get(selectedId));
    const { version, path } = editing;
    postJSON(`/projects/${projectId}/versions/${version}/edit/`, { path, content: editing.handle.getText() })
      .then((data) => {
        stopEditing();
        const g = upsertGeneration(data.generation);
        selectedId = g.id;
        selectedPath = path;
        follow(g);
        versionsChanged();
        render();
      })
      .catch((error) => {
        if (editing) editing.saving = false;
        editError(error.message);
        renderEditBar(generations.get(selectedId));
      });
  }

  // esbuild's errors come as "path:line:column: message"; each becomes a link that opens the file in
  // the editor at that line.
  const BUILD_ERROR = /^(\S+?):(\d+):(\d+): (.*)$/;

  // Shown in a box of its own under the build's message (renderPreview redraws that one on every call).
  const buildErrors = document.createElement("div");
  buildErrors.id = "build-errors";
  buildErrors.className = "build-message build-errors";
  buildErrors.hidden = true;
  el("build-message").after(buildErrors);

  function renderBuildErrors(g, build) {
    const failed = !!build && (build.status === "failed" || (build.status === "ready" && build.smoke_status === "failed"));
    const text = !failed ? "" : build.status === "failed" ? (build.message || "") : (build.smoke_message || "");
    const lines = text.split("\n");
    const found = lines.map((line) => BUILD_ERROR.exec(line));
    const askable = failed && g.kind === "edit" && !repairOf(g);
    const shown = failed && (askable || found.some(Boolean));
    buildErrors.hidden = !shown;
    if (shown) el("build-message").hidden = true;
    const key = shown ? `${g.id}:${build.id}:${askable}:${text}` : "";
    if (buildErrors.__kilnKey === key) return; // unchanged: keep the buttons under the pointer
    buildErrors.__kilnKey = key;
    buildErrors.replaceChildren();
    if (!shown) return;
    lines.forEach((line, i) => {
      const row = document.createElement("div");
      const m = found[i];
      if (!m) { row.textContent = line; buildErrors.append(row); return; }
      row.className = "build-error";
      const where = button(`${m[1]}, line ${m[2]}`, () => openAtLine(g, m[1], Number(m[2])), "link where");
      where.dataset.path = m[1];
      where.dataset.line = m[2];
      row.append(where, ` (column ${m[3]}): ${m[4]}`);
      buildErrors.append(row);
    });
    if (askable) {
      const row = document.createElement("div");
      row.className = "ask-fix";
      row.append(span("muted", "Your edit is not sent to the model unless you ask. "),
                 button("Ask the model to fix it", () => askForRepair(g), "ask-fix-button"));
      buildErrors.append(row);
    }
  }

  function repairOf(g) {
    const turn = turns.get(g.turn);
    return turn && turn.generationIds.some((id) => { const x = generations.get(id); return x && x.kind === "repair"; });
  }

  function openAtLine(g, path, line) {
    showTab("files");
    if (!g.manifest || !g.manifest[path]) return;
    if (editing) stopEditing();
    selectedPath = path;
    pendingLine = { path, line };
    renderFiles();
  }

  function askForRepair(g) {
    postJSON(`/projects/${projectId}/generations/${g.id}/repair/`).then((data) => {
      const repair = upsertGeneration(data.generation);
      selectedId = repair.id;
      follow(repair);
      render();
    }).catch((error) => alertBox(error.message));
  }

  el("edit-file").addEventListener("click", () => {
    const g = generations.get(selectedId);
    if (g) startEditing(g, null);
  });
  el("edit-cancel").addEventListener("click", () => {
    if (editing && editing.dirty && !window.confirm(`Discard your changes to ${editing.path}?`)) return;
    stopEditing();
  });
  el("edit-save").addEventListener("click", saveEdit);
  el("new-file").addEventListener("click", () => {
    const g = generations.get(selectedId);
    if (!g || !g.version) return;
    const path = window.prompt("Path of the new file (under src/: .js, .jsx, .css or .json)", "src/");
    if (path && path.trim()) startEditing(g, null, path.trim());
  });

  connect();
})();
