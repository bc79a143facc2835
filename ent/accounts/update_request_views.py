"""The page ``/update-request/`` ("Faire une demande de mise à jour"): form, then reference.

Thin: the form parses, ``ent.accounts.update_request`` identifies, records and mails.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import EmailValidator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ent.core import session_keys as keys
from ent.core.forms import DatePartsWidget, posted
from ent.core.messages import mask_email
from ent.core.net import client_ip
from ent.directory.identifiers import has_control_characters, normalise_ine
from ent.directory.models import Student

from . import identity, update_request
from .forms import IdentifyForm
from .models import Account, UpdateRequest


def clean_personal_email(raw: str) -> str:
    """An address typed by a student: well formed, and not the university's own domain."""
    address = "".join(raw.split())
    try:
        EmailValidator()(address)
    except forms.ValidationError:
        raise forms.ValidationError(
            _("Adresse mail invalide : elle doit avoir la forme nom@exemple.fr.")
        ) from None
    local, _at, domain = address.rpartition("@")
    domain = domain.lower()
    if domain == settings.STUDENT_MAIL_DOMAIN or domain.endswith(
        "." + settings.STUDENT_MAIL_DOMAIN
    ):
        raise forms.ValidationError(
            _("Donnez une adresse personnelle, pas votre adresse de l'université.")
        )
    return f"{local}@{domain}"


# The "valeur exacte" fields and the kinds each one belongs to: the page shows only the fields
# of the chosen kind (static/ent/ent.js, ``data-kinds``; all of them without JavaScript). The
# script disables the hidden ones, so they are not posted; anything posted is still checked.
FIELDS_BY_KIND: dict[str, tuple[str, ...]] = {
    UpdateRequest.Kind.NAME: ("new_first_name", "new_last_name"),
    UpdateRequest.Kind.BIRTH_DATE: ("new_birth_date",),
    UpdateRequest.Kind.INE: ("new_ine",),
    UpdateRequest.Kind.LOST_EMAIL: ("new_email",),
    UpdateRequest.Kind.OTHER: (),
}
VALUE_FIELDS = ("new_first_name", "new_last_name", "new_birth_date", "new_ine", "new_email")


def kinds_of(field: str) -> str:
    """The kinds a value field belongs to, space-separated (for ``data-kinds``)."""
    return " ".join(str(kind) for kind, fields in FIELDS_BY_KIND.items() if field in fields)


class UpdateRequestForm(forms.Form):
    """What is wrong, the corrected value, and (when needed) where to answer."""

    kind = forms.ChoiceField(
        label=gettext_lazy("Objet de la demande"),
        choices=[("", gettext_lazy("Choisissez…")), *UpdateRequest.Kind.choices],
    )
    message = forms.CharField(
        label=gettext_lazy("Votre message"),
        max_length=UpdateRequest.MESSAGE_MAX_LENGTH,
        help_text=gettext_lazy(
            "Expliquez ce qui est inexact (2000 caractères au plus). N'envoyez jamais de mot de passe ni de pièce d'identité."
        ),
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    new_first_name = forms.CharField(
        label=gettext_lazy("Prénom corrigé"),
        required=False,
        max_length=150,
        help_text=gettext_lazy("Pour une correction du nom ou du prénom."),
    )
    new_last_name = forms.CharField(
        label=gettext_lazy("Nom corrigé"),
        required=False,
        max_length=150,
        help_text=gettext_lazy("Pour une correction du nom ou du prénom."),
    )
    new_birth_date = forms.DateField(
        label=gettext_lazy("Date de naissance exacte"),
        required=False,
        help_text=gettext_lazy("Par exemple : 19 6 2004 pour le 19 juin 2004."),
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=DatePartsWidget(),
        error_messages={
            "invalid": gettext_lazy(
                "Date invalide : indiquez le jour, le mois (1 à 12) et l'année (4 chiffres)."
            )
        },
    )
    new_ine = forms.CharField(
        label=gettext_lazy("Code INE exact"),
        required=False,
        max_length=64,
        help_text=gettext_lazy("Pour une correction du code INE (11 caractères)."),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "spellcheck": "false"}),
    )
    new_email = forms.CharField(
        label=gettext_lazy("Nouvelle adresse mail personnelle"),
        required=False,
        max_length=254,
        help_text=gettext_lazy(
            "Si vous avez perdu l'accès à votre adresse personnelle : un lien de vérification y sera envoyé si la demande est acceptée."
        ),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )
    contact_email = forms.CharField(
        label=gettext_lazy("Adresse mail pour vous répondre"),
        required=False,
        max_length=254,
        help_text=gettext_lazy(
            "Utilisée si votre compte n'a pas d'adresse personnelle vérifiée. Elle n'est pas vérifiée."
        ),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )
    field_order = [
        "kind",
        "message",
        "new_first_name",
        "new_last_name",
        "new_birth_date",
        "new_ine",
        "new_email",
        "contact_email",
    ]

    def clean_new_email(self) -> str:
        raw: str = self.cleaned_data.get("new_email", "")
        return clean_personal_email(raw) if raw.strip() else ""

    def clean_contact_email(self) -> str:
        raw: str = self.cleaned_data.get("contact_email", "")
        return clean_personal_email(raw) if raw.strip() else ""

    def _clean_name(self, field: str) -> str:
        # The import refuses the same characters: an approved correction is copied into the
        # student record, whose name greets every mail and goes to CAS and OIDC services.
        value: str = self.cleaned_data.get(field, "")
        if has_control_characters(value):
            raise forms.ValidationError(
                _("Un nom ne peut contenir ni saut de ligne ni caractère de contrôle.")
            )
        return " ".join(value.split())

    def clean_new_first_name(self) -> str:
        return self._clean_name("new_first_name")

    def clean_new_last_name(self) -> str:
        return self._clean_name("new_last_name")

    def clean_new_ine(self) -> str:
        raw: str = self.cleaned_data.get("new_ine", "")
        if not raw.strip():
            return ""
        ine = normalise_ine(raw)
        if len(ine) != 11 or not ine.isalnum():
            raise forms.ValidationError(_("Un code INE compte 11 chiffres et lettres."))
        return ine

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        needed_by_kind: dict[str, list[str]] = {
            UpdateRequest.Kind.BIRTH_DATE: ["new_birth_date"],
            UpdateRequest.Kind.INE: ["new_ine"],
            UpdateRequest.Kind.LOST_EMAIL: ["new_email"],
        }
        needed = needed_by_kind.get(str(kind or ""), [])
        for name in needed:
            if not data.get(name) and name not in self.errors:
                self.add_error(name, _("Indiquez la valeur exacte pour cet objet de demande."))
        if (
            kind == UpdateRequest.Kind.NAME
            and not data.get("new_first_name")
            and not data.get("new_last_name")
        ):
            self.add_error("new_last_name", _("Indiquez le nom ou le prénom corrigé."))
        return data

    def new_values(self) -> update_request.NewValues:
        """The corrected values, for the service."""
        d = self.cleaned_data
        return update_request.NewValues(
            first_name=d.get("new_first_name", "").strip(),
            last_name=d.get("new_last_name", "").strip(),
            birth_date=d.get("new_birth_date"),
            ine=d.get("new_ine", ""),
            email=d.get("new_email", ""),
        )

    def save(
        self, *, student: Student, ip: str | None, actor: Account | None
    ) -> UpdateRequest | None:
        """Record the valid form's request for ``student``; ``None`` when the form gained an
        error (no address to answer to, too many requests today)."""
        kind = UpdateRequest.Kind(self.cleaned_data["kind"])
        contact, _verified = update_request.contact_for(
            student=student,
            kind=kind,
            given_email=self.cleaned_data["new_email"]
            if kind == UpdateRequest.Kind.LOST_EMAIL
            else self.cleaned_data["contact_email"],
        )
        if not contact:
            self.add_error(
                "contact_email",
                _("Indiquez une adresse mail où l'assistance pourra vous répondre."),
            )
            return None
        try:
            return update_request.update_request_create(
                student=student,
                kind=kind,
                message=self.cleaned_data["message"],
                new=self.new_values(),
                contact_email=contact,
                ip=ip,
                actor=actor,
            )
        except update_request.TooManyRequestsError:
            self.add_error(
                None,
                _(
                    "Vous avez déjà fait plusieurs demandes aujourd'hui : l'assistance les traite, attendez sa réponse."
                ),
            )
            return None


class AnonymousUpdateRequestForm(IdentifyForm, UpdateRequestForm):
    """The same, preceded by student number + INE for a student who is not signed in."""

    field_order = ["student_number", "ine", *UpdateRequestForm.field_order]


def _signed_in_student(request: HttpRequest) -> Student | None:
    user = request.user
    if isinstance(user, Account) and user.is_authenticated and user.student_id:
        return Student.objects.select_related("account").get(pk=user.student_id)
    return None


def _identified_student(form: UpdateRequestForm, *, ip: str | None) -> Student | None:
    """The student the form's number + INE prove, or ``None`` with the form's error."""
    result = identity.student_identify(
        form.cleaned_data["student_number"],
        form.cleaned_data["ine"],
        client=identity.Client(ip=ip),
        purpose=identity.Purpose.UPDATE_REQUEST,
    )
    refusal = identity.refusal_message(result)
    if refusal is not None:
        form.add_error(None, refusal)
        return None
    return result.student


@never_cache
@require_http_methods(["GET", "POST"])
def update_request_view(request: HttpRequest) -> HttpResponse:
    """``/update-request/``: signed in, the account says who it is; else number + INE."""
    signed_in = student = _signed_in_student(request)
    form: UpdateRequestForm = (
        UpdateRequestForm(posted(request))
        if student is not None
        else AnonymousUpdateRequestForm(posted(request))
    )
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        if student is None:
            student = _identified_student(form, ip=ip)
        if student is not None and not form.errors:
            actor = request.user if isinstance(request.user, Account) else None
            created = form.save(student=student, ip=ip, actor=actor)
            if created is not None:
                request.session[keys.UPDATE_REQUEST_REFERENCE] = created.reference
                return redirect("update-request-sent")
    return _update_request_page(request, form, signed_in=signed_in, student=student)


def _update_request_page(
    request: HttpRequest,
    form: UpdateRequestForm,
    *,
    signed_in: Student | None,
    student: Student | None,
) -> HttpResponse:
    """The form; a signed-in student with a verified address is told where the answer goes."""
    verified_contact = ""
    if signed_in is not None:
        address, verified = update_request.contact_for(
            student=signed_in, kind=UpdateRequest.Kind.OTHER, given_email=""
        )
        verified_contact = mask_email(address) if verified else ""
    return render(
        request,
        "accounts/update_request.html",
        {
            "form": form,
            "value_fields": [(form[name], kinds_of(name)) for name in VALUE_FIELDS],
            "signed_in_student": student if request.user.is_authenticated else None,
            "verified_contact": verified_contact,
        },
    )


@never_cache
def update_request_sent(request: HttpRequest) -> HttpResponse:
    """The reference of the request just made, and what happens next."""
    reference = request.session.get(keys.UPDATE_REQUEST_REFERENCE)
    sent = (
        UpdateRequest.objects.filter(reference=reference).only("reference", "contact_email").first()
        if reference
        else None
    )
    if sent is None:
        return redirect("update-request")
    return render(
        request,
        "accounts/update_request_sent.html",
        {"reference": sent.reference, "masked_email": mask_email(sent.contact_email)},
    )
