"""No template holds what the Content-Security-Policy forbids (a static regression guard).

The policy (``script-src 'self'; style-src 'self'``) blocks inline ``<script>`` blocks,
``on…=`` event handlers, ``javascript:`` URLs, ``<style>`` blocks and ``style=`` attributes:
behaviour belongs in ``ent/static/ent/*.js``, looks in ``ent.css`` classes. The browser tests
catch a violation on the pages they visit; this scan catches it in every template, visited or
not. Mail templates (``templates/mail/``) are exempt: they are read by mail clients, which need
inline styles and apply no CSP, and ENT shows only their text part (demo outbox).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import ent

PACKAGE = Path(ent.__file__).resolve().parent
MAIL_TEMPLATES = PACKAGE / "templates" / "mail"

_TAG = re.compile(r"<[a-zA-Z][^<>]*>", re.DOTALL)
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
_STYLE_ATTR = re.compile(r"\sstyle\s*=", re.IGNORECASE)


def csp_problems(text: str) -> list[str]:
    """What in this template text the CSP would block, one line per problem."""
    problems = []
    for attrs, body in _SCRIPT.findall(text):
        if not re.search(r"\bsrc\s*=", attrs, re.IGNORECASE):
            problems.append("inline <script> block")
        elif body.strip():
            problems.append("<script src> with inline content")
    if re.search(r"<style\b", text, re.IGNORECASE):
        problems.append("<style> block")
    if re.search(r"javascript\s*:", text, re.IGNORECASE):
        problems.append("javascript: URL")
    for tag in _TAG.findall(text):
        if _HANDLER.search(tag):
            problems.append(f"inline event handler in {tag[:80]!r}")
        if _STYLE_ATTR.search(tag):
            problems.append(f"style attribute in {tag[:80]!r}")
    return problems


def page_templates() -> list[Path]:
    found = [
        path
        for path in sorted(PACKAGE.rglob("templates/**/*.html"))
        if MAIL_TEMPLATES not in path.parents
    ]
    assert len(found) > 40, "the template directory moved? nothing much to scan"
    return found


def test_no_template_has_inline_script_or_style() -> None:
    problems = [
        f"{path.relative_to(PACKAGE)}: {problem}"
        for path in page_templates()
        for problem in csp_problems(path.read_text(encoding="utf-8"))
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "snippet",
    [
        "<script>alert(1)</script>",
        '<script type="module">import x from "/y.js"</script>',
        '<script src="/static/a.js">alert(1)</script>',
        '<button type="button" onclick="go()">Go</button>',
        '<body\n  onload="init()">',
        '<a href="javascript:void(0)">x</a>',
        '<p style="color: red">x</p>',
        '<svg><rect style="fill:#000"/></svg>',
        "<style>p { color: red }</style>",
    ],
)
def test_the_scan_finds_what_the_policy_blocks(snippet: str) -> None:
    assert csp_problems(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "<script src=\"{% static 'ent/ent.js' %}\" defer></script>",
        "<p>Mon compte : le bouton « Continuer » ouvre la page.</p>",
        '<button type="submit" class="button" data-one="1">Envoyer</button>',
        '<svg viewBox="0 0 10 10"><rect class="bar" fill="#000" x="1"/></svg>',
    ],
)
def test_the_scan_leaves_allowed_markup_alone(snippet: str) -> None:
    assert not csp_problems(snippet)
