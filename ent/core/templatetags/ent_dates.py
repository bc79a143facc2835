"""Dates on pages and in mails: one unambiguous format per language, everywhere.

``12/03/2026`` reads as 12 March in English and 3 December in French, so no page shows a
numeric date: a moment is written with the month in words, in the active language and the
configured time zone (``ENT_TIME_ZONE``), and wrapped in ``<time datetime="…">`` so that
assistive technologies and scripts read the exact value.

- ``{{ value|when }}``: ``<time datetime="2026-12-03T20:06:00+01:00">3 décembre 2026 à 20:06</time>``
  (``3 December 2026, 20:06`` in English);
- ``{{ value|day }}``: ``<time datetime="2026-12-03">3 décembre 2026</time>`` (a date, or the day
  of a moment in the configured time zone);
- ``when_text`` / ``day_text``: the same words without the element, for plain-text mails and
  for Python code (``format_when``, ``format_day``).

An empty value renders as an empty string, so ``|default:"—"`` still works after the filter.
"""

from __future__ import annotations

import datetime as dt

from django import template
from django.utils import dateformat, timezone, translation
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# Django date format strings (django.utils.dateformat), per language; other languages fall
# back to French, the language of the university. ``F`` is the month's name in the active
# language; ``\à`` keeps the French word out of the format characters.
_FORMATS = {
    "fr": {"day": "j F Y", "when": "j F Y \\à H:i", "short": "j b"},
    "en": {"day": "j F Y", "when": "j F Y, H:i", "short": "j M"},
}


def _formats() -> dict[str, str]:
    code = (translation.get_language() or "fr").split("-")[0]
    return _FORMATS.get(code, _FORMATS["fr"])


def _local(value: dt.datetime) -> dt.datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


def _day_of(value: dt.date | dt.datetime) -> dt.date:
    return _local(value).date() if isinstance(value, dt.datetime) else value


def format_when(value: dt.datetime | dt.date | None) -> str:
    """A moment in words (``3 décembre 2026 à 20:06``); a bare date gets its day only."""
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):
        return format_day(value)
    return _first(_local(value).date(), dateformat.format(_local(value), _formats()["when"]))


def format_day(value: dt.datetime | dt.date | None) -> str:
    """A day in words (``3 décembre 2026``), in the configured time zone for a moment."""
    if value is None or value == "":
        return ""
    return _first(_day_of(value), dateformat.format(_day_of(value), _formats()["day"]))


def format_day_short(value: dt.datetime | dt.date | None) -> str:
    """A day without its year, for a chart's axis (``3 déc.``, ``3 Dec``)."""
    if value is None or value == "":
        return ""
    return _first(_day_of(value), dateformat.format(_day_of(value), _formats()["short"]))


def _first(day: dt.date, text: str) -> str:
    # French writes the first of the month as an ordinal: « 1er janvier 2026 ».
    if day.day == 1 and _formats() is _FORMATS["fr"] and text.startswith("1 "):
        return "1er " + text[2:]
    return text


def _iso(value: dt.datetime) -> str:
    return _local(value).isoformat(timespec="seconds")


@register.filter(is_safe=True)
def when(value: dt.datetime | dt.date | None) -> SafeString | str:
    """``<time datetime="ISO">`` around ``format_when``; empty for no value."""
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):
        return day(value)
    return format_html('<time datetime="{}">{}</time>', _iso(value), format_when(value))


@register.filter(is_safe=True)
def day(value: dt.datetime | dt.date | None) -> SafeString | str:
    """``<time datetime="YYYY-MM-DD">`` around ``format_day``; empty for no value."""
    if value is None or value == "":
        return ""
    return format_html(
        '<time datetime="{}">{}</time>', _day_of(value).isoformat(), format_day(value)
    )


@register.filter
def when_text(value: dt.datetime | dt.date | None) -> str:
    """``format_when`` for plain text (mails)."""
    return format_when(value)


@register.filter
def day_text(value: dt.datetime | dt.date | None) -> str:
    """``format_day`` for plain text (mails)."""
    return format_day(value)


@register.filter
def day_short_text(value: dt.datetime | dt.date | None) -> str:
    """``format_day_short`` as plain text (an SVG axis cannot hold a ``<time>``)."""
    return format_day_short(value)
