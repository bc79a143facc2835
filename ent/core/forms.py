"""What every form view binds its form to, and form widgets shared by several pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _


def posted(request: HttpRequest) -> QueryDict | None:
    """The POST data of a POST, ``None`` otherwise: what to give a form to bind it.

    The usual ``Form(request.POST or None)`` leaves the form unbound when a POST arrives with no
    field at all (a script, a broken client): the page came back blank, with no error saying a
    field was required. A POST is always checked, even an empty one.
    """
    return request.POST if request.method == "POST" else None


class DatePartsWidget(forms.MultiWidget):
    """A date typed as three labelled boxes, Jour / Mois / Année (GOV.UK's date input).

    ``<input type="date">`` shows the format of the *browser's* locale (mm/dd/yyyy in an
    English chromium, whatever the page's language), so no help text could say it right.
    Three boxes each say what they hold, in the page's language, in every browser, with or
    without JavaScript. Posted as ``<name>_day``, ``<name>_month``, ``<name>_year``; a client
    posting ``<name>`` itself (``2004-06-19`` or ``19/06/2004``) is still understood.
    """

    # Under ent/core/templates/: the form renderer looks in the apps, not in ent/templates/.
    template_name = "forms/date_parts.html"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        def box(size: int, autocomplete: str) -> forms.TextInput:
            return forms.TextInput(
                attrs={
                    "inputmode": "numeric",
                    "maxlength": str(size),
                    "size": str(size),
                    "autocomplete": autocomplete,
                    "class": f"date-part date-part-{size}",
                }
            )

        super().__init__(
            {"day": box(2, "bday-day"), "month": box(2, "bday-month"), "year": box(4, "bday-year")},
            attrs,
        )

    def decompress(self, value: Any) -> list[Any]:
        if isinstance(value, dt.date):
            return [value.day, value.month, value.year]
        return [None, None, None]

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        if isinstance(value, str) and value:  # a bound value that did not parse: as typed
            parts = value.split("-") if "-" in value else []
            value = list(reversed(parts)) if len(parts) == 3 else [None, None, None]
        context = super().get_context(name, value, attrs)
        labels = {"day": _("Jour"), "month": _("Mois"), "year": _("Année")}
        base = context["widget"]["attrs"].get("id")
        for subwidget, (part, label) in zip(
            context["widget"]["subwidgets"], labels.items(), strict=True
        ):
            subwidget["label"] = label
            if base:
                subwidget["attrs"]["id"] = f"{base}_{part}"
        return context

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        keys = [f"{name}_{part}" for part in ("day", "month", "year")]
        if not any(key in data for key in keys):
            return data.get(name)
        day, month, year = (str(data.get(key) or "").strip() for key in keys)
        if not (day or month or year):
            return ""
        if day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4:
            return f"{year}-{int(month):02d}-{int(day):02d}"
        return f"{year}-{month}-{day}"  # does not parse: the field says the date is invalid

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data and not any(
            f"{name}_{part}" in data for part in ("day", "month", "year")
        )
