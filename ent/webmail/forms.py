"""The webmail's form: Écrire (also for a reply, a reply to all and a forward).

Addresses are checked one by one with a message naming the one refused; nothing typed is lost
on an error (Django re-renders the bound form; only files must be chosen again, which browsers
require). CR, LF and other control characters are refused in every header field, so no header
can be injected whatever the client sends.
"""

from __future__ import annotations

import re
from email.utils import getaddresses
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .rendering import ParsedMessage, safe_filename
from .sending import Draft, Upload

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def parse_addresses(value: str) -> list[tuple[str, str]]:
    """``Nom <a@b.fr>, c@d.fr`` -> [("Nom", "a@b.fr"), ("", "c@d.fr")]; raises ValidationError
    naming every malformed entry."""
    if _CONTROL.search(value):
        raise ValidationError(
            _("Retirez les retours à la ligne et caractères de contrôle."), code="control"
        )
    found: list[tuple[str, str]] = []
    bad: list[str] = []
    for chunk in _split(value):
        pairs = getaddresses([chunk])
        if len(pairs) != 1 or not pairs[0][1]:
            bad.append(chunk)
            continue
        name, address = pairs[0]
        try:
            validate_email(address)
        except ValidationError:
            bad.append(chunk)
            continue
        found.append((name.strip(), address))
    if bad:
        raise ValidationError(
            ngettext(
                "Adresse invalide : %(list)s. Écrivez-la sous la forme prenom.nom@exemple.fr.",
                "Adresses invalides : %(list)s. Écrivez-les sous la forme prenom.nom@exemple.fr.",
                len(bad),
            )
            % {"list": ", ".join(f"« {b} »" for b in bad)},
            code="invalid",
        )
    return found


def _split(value: str) -> list[str]:
    """Split on commas and semicolons outside quotes and angle brackets."""
    chunks: list[str] = []
    current: list[str] = []
    quoted = angle = False
    for char in value:
        if char == '"':
            quoted = not quoted
        elif char == "<" and not quoted:
            angle = True
        elif char == ">" and not quoted:
            angle = False
        if char in ",;" and not quoted and not angle:
            chunks.append("".join(current))
            current = []
        else:
            current.append(char)
    chunks.append("".join(current))
    return [c.strip() for c in chunks if c.strip()]


class MultipleFileInput(forms.ClearableFileInput):
    """A file input that accepts several files (Django's documented pattern)."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files; cleans to a list (possibly empty)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        items = data if isinstance(data, list | tuple) else [data]
        return [single(item, initial) for item in items if item]


class ComposeForm(forms.Form):
    """À, Cc, Objet, the message and attachments."""

    to = forms.CharField(
        label=_("À"),
        max_length=4000,
        help_text=_("Une ou plusieurs adresses, séparées par des virgules."),
        error_messages={"required": _("Indiquez au moins un destinataire.")},
    )
    cc = forms.CharField(
        label=_("Cc"),
        max_length=4000,
        required=False,
        help_text=_("Copie à d'autres destinataires (facultatif)."),
    )
    subject = forms.CharField(label=_("Objet"), max_length=500, required=False)
    body = forms.CharField(
        label=_("Message"),
        max_length=500_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 14}),
    )
    attachments = MultipleFileField(label=_("Pièces jointes"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = settings.WEBMAIL_ATTACHMENTS_MAX_MB
        self.fields["attachments"].help_text = _("Facultatif. %(n)d Mo au total au maximum.") % {
            "n": limit
        }
        for name in ("to", "cc"):
            self.fields[name].widget.attrs.update(
                {"autocomplete": "email", "spellcheck": "false", "autocapitalize": "off"}
            )

    def clean_to(self) -> list[tuple[str, str]]:
        return parse_addresses(self.cleaned_data["to"])

    def clean_cc(self) -> list[tuple[str, str]]:
        return parse_addresses(self.cleaned_data["cc"])

    def clean_subject(self) -> str:
        subject: str = self.cleaned_data["subject"]
        if _CONTROL.search(subject):
            raise ValidationError(
                _("Retirez les retours à la ligne et caractères de contrôle."), code="control"
            )
        return subject.strip()

    def clean_body(self) -> str:
        body: str = self.cleaned_data["body"]
        return body.replace("\r\n", "\n")

    def clean_attachments(self) -> list[Upload]:
        files: list[UploadedFile] = self.cleaned_data["attachments"]
        limit = settings.WEBMAIL_ATTACHMENTS_MAX_MB * 1024 * 1024
        if sum(f.size or 0 for f in files) > limit:
            raise ValidationError(
                _("Les pièces jointes dépassent %(n)d Mo au total : retirez-en une partie.")
                % {"n": settings.WEBMAIL_ATTACHMENTS_MAX_MB},
                code="too_big",
            )
        return [
            Upload(filename=safe_filename(f.name or "") or "piece-jointe", content=f.read())
            for f in files
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        count = len(cleaned.get("to") or []) + len(cleaned.get("cc") or [])
        if count > settings.WEBMAIL_MAX_RECIPIENTS:
            raise ValidationError(
                _("Trop de destinataires : %(n)d au maximum par message.")
                % {"n": settings.WEBMAIL_MAX_RECIPIENTS},
                code="too_many",
            )
        return cleaned

    def draft(self, *, original: ParsedMessage | None, raw: bytes | None, forward: bool) -> Draft:
        """The valid form as a message to send: a reply threads under ``original``; a forward
        attaches the original ``raw`` message whole instead."""
        data = self.cleaned_data
        thread = None if forward else original
        return Draft(
            to=data["to"],
            cc=data["cc"],
            subject=data["subject"],
            body=data["body"],
            attachments=data["attachments"],
            in_reply_to=thread.message_id if thread else "",
            references=thread.references if thread else "",
            forwarded=raw if forward else None,
        )
