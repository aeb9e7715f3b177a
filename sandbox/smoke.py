"""The smoke test: a preview as headless Chromium meets it, turned into scores on the Build.

Chromium loads the preview directly over its Unix socket: every request of the page (the document,
bundle.js, the app's own fetch() calls) is intercepted with Playwright's `context.route` and answered
from the socket with httpx, carrying the proxy's own Content-Security-Policy. So the page sees what
the owner's browser sees (same files, same API, same CSP) without the build worker needing the web
server to be up, a preview host name to resolve, or a ticket and cookie minted for a robot user.
The proxy itself (ticket, cookie, iframe) is covered by tests/sandbox/test_preview_in_browser.py.

Checks: HTTP status of the page, uncaught errors, console errors, a screenshot (PNG under
SANDBOX_DIR/shots/), a blank-screen check (the screenshot's pixel variance, decoded by Chromium itself,
plus whether the app rendered anything into its root), the entities' names from app.json and a form
on the page, and one create / read / delete round trip through the entity API (the user's records are
untouched). A blank preview always says why.

One Chromium stays warm per worker process, owned by a thread of its own (Playwright's sync API is
bound to the thread that started it, and a Celery task or a test may already run an event loop).
"""

import atexit
import base64
import contextlib
import json
import queue
import re
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import httpx
from django.conf import settings

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ORIGIN = "http://preview.localhost"  # never resolved: every request is answered from the socket
VIEWPORT = {"width": 1024, "height": 700}
# How long after the page's load event the app has to put something in #root. On a starved machine the
# page loads slowly and the app's first render is as slow: with two learning rounds and their vLLM
# servers on two cores (load 14), working apps rendered 5-7 s after the request, and one that renders
# in 0.4 s on a quiet machine was called blank (and passed 3 of 3 again at load 6). A false "blank"
# starts a repair of a working app and records it as a negative example, so the window grows with the
# page's own load time; a page that loads at the usual pace (well under a second) keeps 4 s.
RENDER_TIMEOUT_MS = 4000
RENDER_LOAD_FACTOR = 3
RENDER_TIMEOUT_MAX_MS = 10000  # with the 10 s load limit, inside SMOKE_TIMEOUT_S (20 s)
BLANK_STDDEV = 1.5  # below this (0..255 luminance), the screenshot is one flat colour
ROUND_TRIP_TAG = "Kiln smoke test"
# Chromium itself missing or crashed: says nothing about the app (never a failed app or a repair).
NOT_SCORED = "Smoke test not scored: Kiln could not run it ({reason})."

# In the page: how long until the app put something in its root, and what it put there.
RENDERED_JS = """() => {
  const root = document.getElementById('root') || document.body;
  if (!root) return false;
  return root.innerText.trim().length > 0 || !!root.querySelector('input,button,img,svg,canvas,table');
}"""

# What the page says to a person: its text plus the labels of its controls (placeholder, aria-label).
VISIBLE_WORDS_JS = """() => [document.body ? document.body.innerText : '',
  ...Array.from(document.querySelectorAll('[placeholder],[aria-label],[title],label,legend,option'))
    .map((el) => [el.getAttribute('placeholder'), el.getAttribute('aria-label'), el.getAttribute('title')]
      .filter(Boolean).join(' '))].join(' ')"""

# In a blank page: decode the PNG with Chromium's own decoder and measure its luminance spread.
VARIANCE_JS = """async (b64) => {
  const img = new Image();
  img.src = 'data:image/png;base64,' + b64;
  await img.decode();
  const w = 160, h = Math.max(1, Math.round(img.height * 160 / img.width));
  const canvas = document.createElement('canvas');
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0, w, h);
  const d = ctx.getImageData(0, 0, w, h).data;
  let sum = 0, sq = 0, n = w * h;
  for (let i = 0; i < d.length; i += 4) {
    const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    sum += y; sq += y * y;
  }
  const mean = sum / n;
  return Math.sqrt(Math.max(0, sq / n - mean * mean));
}"""

# In the preview page: create, read back and delete one record (the app's data is left as it was).
ROUND_TRIP_JS = """async ([entity, values]) => {
  const base = '/api/entities/' + encodeURIComponent(entity);
  const json = {'Content-Type': 'application/json'};
  const created = await fetch(base, {method: 'POST', headers: json, body: JSON.stringify(values)});
  if (created.status !== 201) return 'create answered ' + created.status + ': ' + (await created.text());
  const record = await created.json();
  const read = await fetch(base + '/' + record.id);
  if (read.status !== 200) return 'read back answered ' + read.status;
  const back = await read.json();
  for (const [k, v] of Object.entries(values)) {
    if (JSON.stringify(back[k]) !== JSON.stringify(v)) return 'read back ' + k + ' = ' + JSON.stringify(back[k]);
  }
  const gone = await fetch(base + '/' + record.id, {method: 'DELETE'});
  if (gone.status !== 204) return 'delete answered ' + gone.status;
  const after = await fetch(base + '/' + record.id);
  if (after.status !== 404) return 'the record was still there after delete';
  return '';
}"""


# --- the warm browser ----------------------------------------------------------------------------------


class WarmBrowser:
    """One Chromium, started on first use in a thread that owns Playwright, reused by every smoke test
    of this process, closed when the process exits (or after idle_s without work)."""

    def __init__(self, idle_s: float = 600):
        self.idle_s = idle_s
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, fn, *, timeout: float):
        """Run fn(browser) in the browser's thread and return its result (or raise its error)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="kiln-smoke-browser", daemon=True)
                self._thread.start()
        future: Future = Future()
        self._jobs.put((fn, future))
        return future.result(timeout=timeout)

    def close(self, timeout: float = 10) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._jobs.put(None)
            thread.join(timeout)

    def _loop(self) -> None:
        from playwright.sync_api import sync_playwright

        playwright = sync_playwright().start()
        browser = None
        try:
            while True:
                try:
                    job = self._jobs.get(timeout=self.idle_s)
                except queue.Empty:
                    if browser is not None:  # idle: give the memory back, start again on demand
                        browser.close()
                        browser = None
                    continue
                if job is None:
                    return
                fn, future = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    if browser is None or not browser.is_connected():
                        browser = playwright.chromium.launch(executable_path=settings.CHROMIUM_PATH,
                                                             args=CHROMIUM_ARGS)
                    future.set_result(fn(browser))
                except BaseException as error:  # noqa: BLE001 - handed to the caller, who decides
                    future.set_exception(error)
        finally:
            if browser is not None:
                browser.close()
            playwright.stop()


browser = WarmBrowser()
atexit.register(browser.close)


# --- the checks ------------------------------------------------------------------------------------------


def _label_words(name: str) -> list[str]:
    """'TodoItem' -> ['todoitem', 'todo item']: what a page may show for an entity's name."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").replace("-", " ")
    return sorted({name.lower(), spaced.lower()})


def sample_values(fields: dict) -> dict:
    """A valid record for an entity: every required field, plus the first text field for the tag."""
    values = {}
    for name, spec in fields.items():
        spec = spec or {}
        kind = spec.get("type", "string")
        sample = {
            "string": ROUND_TRIP_TAG, "text": ROUND_TRIP_TAG, "number": 1.5, "integer": 1, "boolean": True,
            "date": "2024-01-31", "datetime": "2024-01-31T12:00:00Z",
            "enum": (spec.get("values") or [None])[0],
        }.get(kind, ROUND_TRIP_TAG)
        if spec.get("required") or (kind in ("string", "text") and not values):
            values[name] = sample
    return values


def _entities(app_json: dict) -> dict:
    entities = app_json.get("entities") or {}
    return {name: dict((spec or {}).get("fields") or {}) for name, spec in entities.items()
            if isinstance(spec, dict) or spec is None}


def _favicon(message) -> bool:
    """Chromium's own request for /favicon.ico (no app has to have one; not interceptable by routes)."""
    return message.location.get("url", "").endswith("/favicon.ico")


def _forward(socket_path: str, csp: str):
    """A route handler answering the page's requests from the preview's socket, as the proxy does."""
    http = httpx.Client(transport=httpx.HTTPTransport(uds=socket_path), base_url="http://preview", timeout=10)

    def handle(route, request):
        url = request.url
        if not url.startswith(ORIGIN + "/"):
            return route.abort("blockedbyclient")  # the CSP blocks outside hosts anyway
        headers = {k: v for k, v in request.headers.items() if k in ("content-type", "accept")}
        try:
            upstream = http.request(request.method, url[len(ORIGIN):], headers=headers,
                                    content=request.post_data_buffer)
        except httpx.TransportError:
            return route.abort("connectionrefused")
        if url == ORIGIN + "/favicon.ico" and upstream.status_code == 404:
            return route.fulfill(status=204, body=b"")  # Chromium's own request, not the app's
        answer = {k: v for k, v in upstream.headers.items() if k in ("content-type", "cache-control", "location")}
        answer["content-security-policy"] = csp
        route.fulfill(status=upstream.status_code, headers=answer, body=upstream.content)

    return http, handle


def render_budget_ms(load_ms: float) -> int:
    """The render window after a page that took `load_ms` to load (see RENDER_TIMEOUT_MS)."""
    return round(min(RENDER_TIMEOUT_MAX_MS, max(RENDER_TIMEOUT_MS, RENDER_LOAD_FACTOR * load_ms)))


def _terms_shown(terms: list[str], text: str) -> int:
    """How many expected terms (names a prompt asked for) the page's words show; "book" counts for "books"."""
    return sum(1 for term in terms if term.lower() in text or term.lower().endswith("s") and term.lower()[:-1] in text)


def _check(browser_, *, socket_path: str, app_json: dict, screenshot: Path, csp: str,
           expected_terms: list[str] | None = None) -> dict:
    """Runs in the browser's thread. Returns the scores (see docs/sandbox.md) plus "problems"."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    started = time.perf_counter()
    entities = _entities(app_json)
    uncaught: list[str] = []
    console: list[str] = []
    http, handle = _forward(socket_path, csp)
    context = browser_.new_context(viewport=VIEWPORT, service_workers="block")
    try:
        context.route("**/*", handle)
        page = context.new_page()
        page.on("pageerror", lambda error: uncaught.append(str(error).splitlines()[0][:300]))
        page.on("console", lambda msg: msg.type == "error" and not _favicon(msg) and console.append(
            f"{msg.text[:300]} ({msg.location.get('url', '')})"))
        load_started = time.perf_counter()
        response = page.goto(ORIGIN + "/", wait_until="load", timeout=10_000)
        status = response.status if response else 0
        load_ms = round((time.perf_counter() - load_started) * 1000)
        budget_ms = render_budget_ms(load_ms)
        rendered = False
        with contextlib.suppress(PlaywrightTimeout):  # nothing rendered: said below
            page.wait_for_function(RENDERED_JS, timeout=budget_ms, polling=25)
            rendered = True
        render_ms = round((time.perf_counter() - started) * 1000) if rendered else None
        if rendered:  # the app's first fetch() calls land; a list may still be filling in
            with contextlib.suppress(PlaywrightTimeout):  # an app that polls never goes idle: fine
                page.wait_for_load_state("networkidle", timeout=1500)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        png = page.screenshot(path=str(screenshot))
        text = page.evaluate(VISIBLE_WORDS_JS).lower() if status else ""
        has_form = page.locator("form, input, textarea, select").count() > 0
        round_trip = ""
        first = next(iter(entities.items()), None)
        if first and status == 200:
            seen = len(console)
            round_trip = page.evaluate(ROUND_TRIP_JS, [first[0], sample_values(first[1])])
            del console[seen:]  # the check's own 404 after delete is not the app's error
        shown = [name for name in entities if any(word in text for word in _label_words(name))]
        blank_page = context.new_page()
        stddev = blank_page.evaluate(VARIANCE_JS, base64.b64encode(png).decode())
    finally:
        context.close()
        http.close()

    blank = not rendered or stddev < BLANK_STDDEV
    problems = []
    if status != 200:
        problems.append(f"the page answered HTTP {status}")
    if blank:
        if uncaught:
            problems.append(f"the preview is blank: the app threw {uncaught[0]}")
        elif status != 200:
            problems.append("the preview is blank: the page did not load")
        elif not rendered:
            problems.append(f"the preview is blank: nothing was rendered into #root within "
                            f"{budget_ms / 1000:g} s, and no error was reported")
        else:
            problems.append("the preview is blank: the screenshot is a single flat colour")
    elif uncaught:
        problems.append(f"uncaught error: {uncaught[0]}")
    if console:
        problems.append(f"{len(console)} console error(s), first: {console[0]}")
    missing = [name for name in entities if name not in shown]
    if entities and not blank and missing:
        problems.append("the page does not show " + ", ".join(f"'{name}'" for name in missing))
    if entities and not blank and not has_form:
        problems.append("the page has no form to add a record")
    if round_trip:
        problems.append(f"entity API round trip ({first[0]}): {round_trip}")
    return {
        "http_status": status,
        "uncaught_errors": len(uncaught),
        "console_errors": len(console),
        "errors": (uncaught + console)[:5],
        "blank": blank,
        "pixel_stddev": round(stddev, 2),
        "load_ms": load_ms,
        "render_ms": render_ms,
        "render_budget_ms": budget_ms,
        "entities_expected": len(entities),
        "entities_shown": len(shown),
        "has_form": has_form,
        "api_round_trip": (not round_trip) if first else None,
        "smoke_ms": round((time.perf_counter() - started) * 1000),
        "problems": problems,
        # The relevance score (only when the caller passes the prompt's terms): shown / expected.
        **({"terms_expected": len(expected_terms), "terms_shown": _terms_shown(expected_terms, text)}
           if expected_terms is not None else {}),
    }


def run(*, socket_path: Path, app_json: dict, screenshot: Path, csp: str,
        expected_terms: list[str] | None = None) -> dict:
    """Smoke-test the preview on socket_path; returns its scores with "passed" and "message".
    With expected_terms (the names a prompt asked for: generation.blueprint.relevance), the scores also
    say how many of them the page shows ("terms_shown" of "terms_expected"); they do not change the verdict."""
    started = time.perf_counter()
    try:
        scores = browser.run(
            lambda b: _check(b, socket_path=str(socket_path), app_json=app_json, screenshot=screenshot, csp=csp,
                             expected_terms=expected_terms),
            timeout=settings.SMOKE_TIMEOUT_S,
        )
    except FutureTimeout:
        scores = {"problems": [f"the smoke test did not finish within {settings.SMOKE_TIMEOUT_S} s"]}
    except Exception as error:  # noqa: BLE001 - Chromium missing or crashed: Kiln's fault, not the app's
        reason = str(error).splitlines()[0][:200] if str(error) else error.__class__.__name__
        return {"passed": None, "infrastructure": True, "smoke_ms": round((time.perf_counter() - started) * 1000),
                "message": NOT_SCORED.format(reason=reason)}
    problems = scores.pop("problems")
    scores["smoke_ms"] = scores.get("smoke_ms") or round((time.perf_counter() - started) * 1000)
    scores["passed"] = not problems
    if problems:
        scores["message"] = "Smoke test failed: " + "; ".join(problems)
    else:
        scores["message"] = (f"Smoke test passed in {scores['smoke_ms'] / 1000:.1f} s: rendered in "
                             f"{scores['render_ms']} ms, {scores['entities_shown']}/{scores['entities_expected']} "
                             "entities shown" + (", API round trip ok" if scores["api_round_trip"] else ""))
    return scores


def app_json_of(app_dir: Path) -> dict:
    try:
        return json.loads((app_dir / "app.json").read_text())
    except (OSError, ValueError):
        return {}
