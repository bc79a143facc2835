"""French first, English chosen by the browser or the switch."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.conftest import page_text

pytestmark = pytest.mark.django_db


def test_french_by_default(client: Client) -> None:
    page = page_text(client.get("/"))
    assert '<html lang="fr">' in page and "Activer mon compte" in page


def test_english_from_the_browser(client: Client) -> None:
    page = page_text(client.get("/activation/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9"))
    assert '<html lang="en">' in page
    assert "Activate my account" in page and "Student number" in page


def test_switch_keeps_the_choice(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/login"})
    assert response.status_code == 302 and response["Location"] == "/login"
    assert "Sign in" in page_text(client.get("/login")) or "Log in" in page_text(
        client.get("/login")
    )
    response = client.post(
        "/i18n/setlang/", {"language": "en", "next": "https://evil.example.com/"}
    )
    assert response["Location"] == "/"


def test_english_catalogue_is_complete_and_compiled() -> None:
    """Every French message has an English translation, and the .mo holds every one of them."""
    import ast
    import gettext
    from pathlib import Path

    import ent

    folder = Path(ent.__file__).parent / "locale" / "en" / "LC_MESSAGES"
    po, mo = folder / "django.po", folder / "django.mo"
    with mo.open("rb") as f:
        catalog = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
    compiled = {key[0] if isinstance(key, tuple) else key for key in catalog}
    untranslated = []
    for block in po.read_text(encoding="utf-8").split("\n\n")[1:]:  # [0] is the header
        lines = [line for line in block.splitlines() if not line.startswith("#")]
        text = "\n".join(lines)
        if "#, fuzzy" in block:
            untranslated.append(text)
        for key in ("msgstr ", "msgstr[0] ", "msgstr[1] "):
            if key in text:
                value = text.split(key, 1)[1].split("\nmsg", 1)[0]
                if value.replace('"', "").strip() == "":
                    untranslated.append(text)
        if "\nmsgid " in "\n" + text and "msgctxt" not in text:
            raw = text.split("msgid ", 1)[1].split("\nmsg", 1)[0]
            msgid = "".join(ast.literal_eval(part) for part in raw.split("\n"))
            if msgid not in compiled:
                untranslated.append(f"not compiled (run make messages): {msgid}")
    assert untranslated == []


def test_translation_functions_keep_names_makemessages_knows() -> None:
    """``make messages`` (xgettext) finds ``_(…)`` and the functions by their own names only: a
    message marked with another alias (``gettext_lazy as _l``) is dropped from the catalogue at
    the next run, and the page shows it in French to everyone."""
    import ast
    from pathlib import Path

    import ent

    renamed = []
    for path in Path(ent.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation":
                renamed += [
                    f"{path.name}: {alias.name} as {alias.asname}"
                    for alias in node.names
                    if alias.asname not in (None, "_")
                ]
    assert renamed == []


def _french_plurals_script() -> Any:
    """scripts/french-plurals as a module (its name has no .py)."""
    from importlib.machinery import SourceFileLoader
    from importlib.util import module_from_spec, spec_from_loader
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "french-plurals"
    loader = SourceFileLoader("french_plurals", str(path))
    spec = spec_from_loader("french_plurals", loader)
    assert spec is not None
    module = module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_french_catalogue_holds_every_plural() -> None:
    """French says "0 demande." (singular for 0 and 1): a French entry for every plural message.

    Without one, gettext falls back to "singular only when n == 1". After adding a plural
    message, run scripts/french-plurals (``make messages`` does).
    """
    import gettext
    from pathlib import Path

    import ent

    script = _french_plurals_script()
    locale = Path(ent.__file__).parent / "locale"
    english = script.plurals((locale / "en/LC_MESSAGES/django.po").read_text(encoding="utf-8"))
    french = script.plurals((locale / "fr/LC_MESSAGES/django.po").read_text(encoding="utf-8"))
    assert english and sorted(french, key=str) == sorted(english, key=str), (
        "run scripts/french-plurals"
    )
    with (locale / "fr/LC_MESSAGES/django.mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for context, msgid, plural in english:
        key = f"{context}\x04{msgid}" if context else msgid
        assert compiled.ngettext(key, plural, 0) == msgid, "run scripts/french-plurals"
        assert compiled.ngettext(key, plural, 2) == plural


def test_french_singular_for_zero_and_one() -> None:
    from django.utils import translation

    with translation.override("fr"):
        for n, expected in ((0, "0 demande."), (1, "1 demande."), (2, "2 demandes.")):
            text = translation.ngettext("%(n)s demande.", "%(n)s demandes.", n) % {"n": n}
            assert text == expected
    with translation.override("en"):
        assert translation.ngettext("%(n)s demande.", "%(n)s demandes.", 0) % {"n": 0} == (
            "0 requests."
        )


def test_help_desk_queue_says_zero_request(agent_client: Client) -> None:
    page = page_text(agent_client.get("/helpdesk/requests/"))
    assert "0 demande." in page and "0 demandes." not in page


def test_error_summary_follows_each_language_typography(client: Client) -> None:
    """French puts a space before the colon, English none: "Code INE : …" / "INE code: …"."""
    data = {"student_number": "", "ine": ""}
    french = client.post("/activation/", data)
    assert "Numéro étudiant : " in french.content.decode()
    english = client.post("/activation/", data, HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    summary = english.content.decode().split('id="error-summary"')[1].split("</div>")[0]
    assert "Student number: " in summary and " : " not in summary
