"""``ent.core.templatetags.ent_dates``: one unambiguous date format per language, everywhere.

The issue: in English the webmail list said "12/03/2026 8:06 p.m." (read as 12 March), the
profile "12/03/2026" and "Dec. 3, 2026" on one page, the outbox "03/12/2026".
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import translation

from ent.core.templatetags.ent_dates import format_when

# 19:06 UTC is 20:06 in Paris (winter time): the configured zone, not UTC, is shown.
MOMENT = dt.datetime(2026, 12, 3, 19, 6, 42, tzinfo=dt.UTC)
SUMMER = dt.datetime(2026, 7, 1, 6, 5, tzinfo=dt.UTC)


def render(source: str, language: str, **context: object) -> str:
    with translation.override(language):
        return Template("{% load ent_dates %}" + source).render(Context(context))


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", '<time datetime="2026-12-03T20:06:42+01:00">3 décembre 2026 à 20:06</time>'),
        ("en", '<time datetime="2026-12-03T20:06:42+01:00">3 December 2026, 20:06</time>'),
    ],
)
def test_a_moment(language: str, expected: str) -> None:
    assert render("{{ v|when }}", language, v=MOMENT) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", '<time datetime="2026-07-01T08:05:00+02:00">1er juillet 2026 à 08:05</time>'),
        ("en", '<time datetime="2026-07-01T08:05:00+02:00">1 July 2026, 08:05</time>'),
    ],
)
def test_summer_time_and_the_first_of_the_month(language: str, expected: str) -> None:
    assert render("{{ v|when }}", language, v=SUMMER) == expected


@pytest.mark.parametrize(
    ("language", "day", "short"),
    [("fr", "3 décembre 2026", "3 déc"), ("en", "3 December 2026", "3 Dec")],
)
def test_a_day(language: str, day: str, short: str) -> None:
    expected = f'<time datetime="2026-12-03">{day}</time>'
    assert render("{{ v|day }}", language, v=dt.date(2026, 12, 3)) == expected
    # A moment's day is its day in the configured time zone: 23:30 UTC is already the 4th.
    late = dt.datetime(2026, 12, 3, 23, 30, tzinfo=dt.UTC)
    assert (
        render("{{ v|day }}", language, v=late)
        == f'<time datetime="2026-12-04">{day.replace("3", "4", 1)}</time>'
    )
    assert render("{{ v|day_text }}", language, v=MOMENT) == day
    assert render("{{ v|day_short_text }}", language, v=MOMENT) == short


def test_plain_text_for_mails_and_empty_values() -> None:
    assert render("{{ v|when_text }}", "fr", v=MOMENT) == "3 décembre 2026 à 20:06"
    assert render("{{ v|when_text }}", "en", v=MOMENT) == "3 December 2026, 20:06"
    assert render('{{ v|when|default:"—" }}', "fr", v=None) == "—"
    assert render("{{ v|day }}", "fr", v="") == ""
    with translation.override("en"):
        assert format_when(MOMENT) == "3 December 2026, 20:06"


def test_inside_blocktranslate_the_element_is_kept() -> None:
    out = render(
        "{% load i18n %}{% blocktranslate with d=v|day %}le {{ d }}{% endblocktranslate %}",
        "fr",
        v=MOMENT,
    )
    assert out == 'le <time datetime="2026-12-03">3 décembre 2026</time>'


def test_no_template_formats_a_date_by_hand() -> None:
    """Every date on a page or in a mail goes through the filters (one truth per language)."""
    root = Path(__file__).resolve().parents[2] / "ent" / "templates"
    offenders = [
        f"{path.relative_to(root)}: {match.group(0)}"
        for path in sorted(root.rglob("*.*"))
        for match in re.finditer(r"\|date(:[^}]*)?|naturaltime|\|time:", path.read_text())
    ]
    assert offenders == []


def test_mails_write_the_date_in_words() -> None:
    """The password-changed notice (text and HTML) dates the change like the pages."""
    from ent.core.mail import mail_preview

    context = {
        "full_name": "Ada Lovelace",
        "username": "21000001",
        "when": MOMENT,
        "ip": "192.0.2.1",
        "how": "change",
        "reset_link": "https://ent.example/password/reset/",
        "helpdesk_email": "assistance@example.org",
        "university_name": "Université",
    }
    message = mail_preview(template="password_changed", context=context)
    assert "Date : 3 décembre 2026 à 20:06" in str(message.body)
    html = str(message.alternatives[0][0])  # type: ignore[index]
    assert '<time datetime="2026-12-03T20:06:42+01:00">3 décembre 2026 à 20:06</time>' in html
