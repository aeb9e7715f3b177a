"""Driving Kiln's pages in headless Chromium: the flags that keep it quiet on a closed network, signing
in, and a page that records Content-Security-Policy violations. The `browser` fixture is in
tests/conftest.py."""

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# Runs before any page script, in every frame; only the builder's own page (the top frame) counts here:
# a preview enforces its own policy.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
if (window.top === window) {
  document.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
  });
}
"""


def log_in(page, stack, username, password, path="/accounts/login/"):
    page.goto(stack.url + path)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()


def open_page(browser, stack, username, password, **context_options):
    """A signed-in page in a context of its own that records CSP violations and console messages
    (`csp_violations(page)`); close it with page.context.close()."""
    context = browser.new_context(**{"viewport": {"width": 1400, "height": 900}, **context_options})
    page = context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    page.console_messages = []
    page.on("console", lambda message: page.console_messages.append(message.text))
    log_in(page, stack, username, password)
    return page


def csp_violations(page) -> list[str]:
    reported = page.evaluate("window.__cspViolations")
    refused = [text for text in page.console_messages if "Content Security Policy" in text]
    return reported + refused
