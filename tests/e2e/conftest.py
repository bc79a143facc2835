"""Browser fixtures: Debian's chromium driven by Playwright, axe-core audits, screenshots.

``browser`` is started once per session; ``page`` is a fresh context (cookies, storage) per
test, pointed at the live server. ``audit(name)`` takes the screenshots of the current page at
375 px and 1280 px, checks it has no horizontal scroll on a phone and runs axe-core (WCAG 2.1
A and AA) at both widths; problems are collected so that one run reports every page, and
``audit.assert_clean()`` fails the test with all of them.

Every page of every browser test is also watched for Content-Security-Policy violations (a
``securitypolicyviolation`` listener added by an init script, and chromium's console
messages): ``csp_violations`` collects them and the ``page`` fixture fails the test if any
occurred, so each journey doubles as a check that the policy breaks nothing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    sync_playwright,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS_DIR = REPO_ROOT / "test-artifacts" / "screenshots"
AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"

CHROMIUM = "/usr/bin/chromium"  # Debian's; never a browser downloaded by `playwright install`
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
PHONE: ViewportSize = {"width": 375, "height": 800}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_RUN = (
    "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
    ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,"
    " nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html,"
    " summary: n.failureSummary}))}))"
)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless chromium for the whole session."""
    if not AXE_JS.is_file():
        # A skipped browser test would hide a failure in CI: missing tools are an error.
        pytest.fail(f"axe-core missing ({AXE_JS}): run scripts/test-deps")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def ent_url(live_server: Any, settings: Any) -> str:
    """The live server's URL, which mailed links are built from (``settings.BASE_URL``)."""
    url = str(live_server.url).rstrip("/")
    settings.BASE_URL = url
    host = urlsplit(url).hostname or ""
    if host not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
    return url


# Runs in every document before its own scripts; reports through the binding below (init
# scripts and bindings are not subject to the page's CSP).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__entCspViolation(
    `${e.effectiveDirective} blocked ${e.blockedURI || "(inline)"} at ${e.documentURI}` +
    (e.sourceFile ? ` (${e.sourceFile}:${e.lineNumber})` : "") +
    (e.sample ? ` sample: ${e.sample}` : ""));
});
"""


@pytest.fixture
def csp_violations() -> list[str]:
    """The CSP violations seen by the test's browser tab (filled by the ``page`` fixture)."""
    return []


def watch_csp(context: BrowserContext, tab: Page, violations: list[str]) -> None:
    """Collect every CSP violation of ``tab`` (and of the pages it opens) into ``violations``."""
    context.expose_binding("__entCspViolation", lambda _source, text: violations.append(str(text)))
    context.add_init_script(CSP_LISTENER)

    def console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"console: {message.text}")

    tab.on("console", console)


@pytest.fixture
def page(browser: Browser, ent_url: str, csp_violations: list[str]) -> Iterator[Page]:
    """A fresh French-speaking desktop tab on the live server; relative URLs work.

    Fails the test if any page it showed broke the Content-Security-Policy.
    """
    context = browser.new_context(base_url=ent_url, viewport=DESKTOP, locale="fr-FR")
    context.set_default_timeout(5_000)
    tab = context.new_page()
    watch_csp(context, tab, csp_violations)
    try:
        yield tab
    finally:
        context.close()
    assert not csp_violations, "Content-Security-Policy violations:\n" + "\n".join(csp_violations)


@dataclass
class Auditor:
    """Screenshots, reflow and axe-core checks of the pages a test goes through."""

    page: Page
    problems: list[str] = field(default_factory=list)
    js_errors: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("pageerror", lambda error: self.js_errors.append(str(error)))

    def __call__(self, name: str) -> None:
        """Audit the current page; ``name`` prefixes the screenshots (``01-home``)."""
        self.pages.append(name)
        where = f"{name} ({self.page.url})"
        self.page.set_viewport_size(PHONE)
        scroll_width = self.page.evaluate("document.documentElement.scrollWidth")
        if scroll_width > PHONE["width"]:
            self.problems.append(
                f"{where}: horizontal scroll at {PHONE['width']} px (scrollWidth={scroll_width})"
            )
        self._screenshot(name, PHONE["width"])
        self._axe(where, PHONE["width"])
        self.page.set_viewport_size(DESKTOP)
        self._screenshot(name, DESKTOP["width"])
        self._axe(where, DESKTOP["width"])

    def _screenshot(self, name: str, width: int) -> None:
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS_DIR / f"{name}-{width}.png"), full_page=True)

    def _axe(self, where: str, width: int) -> None:
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            # evaluate, not add_script_tag: an inline <script> would break (and test) the CSP.
            self.page.evaluate(AXE_JS.read_text())
        violations: list[dict[str, Any]] = self.page.evaluate(AXE_RUN, WCAG_TAGS)
        for v in violations:
            nodes = "\n".join(
                f"    {n['target']}: {n['html']}\n" + textwrap.indent(n["summary"] or "", " " * 6)
                for n in v["nodes"]
            )
            self.problems.append(
                f"{where} at {width} px: [{v['id']}, {v['impact']}] {v['help']}"
                f" ({v['helpUrl']})\n{nodes}"
            )

    def assert_clean(self) -> None:
        """Fail with every problem found on every audited page."""
        problems = self.problems + [f"JavaScript error: {e}" for e in self.js_errors]
        assert not problems, (
            f"{len(problems)} problem(s) on {len(self.pages)} audited pages:\n"
            + "\n".join(problems)
        )


@pytest.fixture
def audit(page: Page) -> Auditor:
    """``audit("01-home")`` on each page, then ``audit.assert_clean()``."""
    return Auditor(page)
