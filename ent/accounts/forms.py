"""Forms of the activation journey. They parse and check input; services do the work."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import IntegrityError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ent.directory.models import Student

from . import activation, password_policy
from .email_typos import suggest
from .models import Account


class IdentifyForm(forms.Form):
    """Step 1: student number and INE code."""

    student_number = forms.CharField(
        label=_("Numéro étudiant"),
        max_length=64,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "username",
                "inputmode": "text",
                "autocapitalize": "none",
                "spellcheck": "false",
            }
        ),
    )
    ine = forms.CharField(
        label=_("Code INE"),
        max_length=64,
        help_text=_(
            "11 caractères, sur votre certificat de scolarité ou votre relevé de notes du baccalauréat."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )


class NewPasswordMixin(forms.Form):
    """Two password fields checked against the policy of the settings."""

    password1 = forms.CharField(
        label=_("Votre mot de passe"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "new-password", "data-password-policy": "1"}
        ),
    )
    password2 = forms.CharField(
        label=_("Confirmez votre mot de passe"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def personal_data(self) -> list[str]:
        """Values the password must not contain."""
        return []

    def clean_password1(self) -> str:
        password: str = self.cleaned_data["password1"]
        problems = password_policy.check(password, personal=self.personal_data())
        if problems:
            raise forms.ValidationError(problems)
        return password

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 is not None and p1 != p2:
            self.add_error("password2", _("Les deux mots de passe ne sont pas identiques."))
        return data


class ActivationForm(NewPasswordMixin):
    """Step 2: personal address, new password twice, IT charter."""

    email = forms.CharField(
        label=_("Votre adresse mail personnelle"),
        max_length=254,
        help_text=_(
            "Le lien d'activation y sera envoyé : vérifiez qu'elle ne contient pas d'erreur de saisie."
        ),
        widget=forms.EmailInput(
            attrs={"autocomplete": "email", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )
    email_confirmed = forms.BooleanField(
        required=False,
        label=_("Mon adresse est correcte, l'utiliser telle quelle"),
        label_suffix="",
    )
    charter = forms.BooleanField(
        required=True,
        label=_("J'accepte les termes de la charte informatique de l'établissement"),
        label_suffix="",
        error_messages={
            "required": _("Vous devez accepter la charte informatique pour activer votre compte.")
        },
    )
    field_order = ["email", "email_confirmed", "password1", "password2", "charter"]

    def __init__(self, *args: Any, student: Student, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.student = student
        self.suggestion: str | None = None

    def personal_data(self) -> list[str]:
        return password_policy.personal_data_of(self.student)

    def clean_email(self) -> str:
        address = "".join(self.cleaned_data["email"].split())
        try:
            EmailValidator()(address)
        except forms.ValidationError:
            raise forms.ValidationError(
                _("Adresse mail invalide : elle doit avoir la forme nom@exemple.fr.")
            ) from None
        local, _at, domain = address.rpartition("@")
        address = f"{local}@{domain.lower()}"
        if domain.lower() == settings.STUDENT_MAIL_DOMAIN or domain.lower().endswith(
            "." + settings.STUDENT_MAIL_DOMAIN
        ):
            raise forms.ValidationError(
                _("Donnez une adresse personnelle, pas votre adresse de l'université.")
            )
        return address

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        address = data.get("email")
        if address and not data.get("email_confirmed"):
            self.suggestion = suggest(address)
            if self.suggestion:
                self.add_error(
                    "email",
                    _(
                        "Vouliez-vous dire %(s)s ? Corrigez l'adresse, ou cochez « Mon adresse est correcte »."
                    )
                    % {"s": self.suggestion},
                )
        return data

    def save(self, *, ip: str | None) -> Account | None:
        """Start the activation (``activation_start``) with the valid form; ``None`` when the
        form gained an error. ``AlreadyActiveError`` propagates."""
        try:
            return activation.activation_start(
                student=self.student,
                email=self.cleaned_data["email"],
                password=self.cleaned_data["password1"],
                charter_accepted=self.cleaned_data["charter"],
                ip=ip,
            )
        except ValidationError as exc:
            self.add_error("password1", exc)
        except IntegrityError:
            # Only a clash the retry in activation_start could not settle (an identifier
            # taken by a staff account): nothing was written; the help desk must look.
            self.add_error(
                None,
                gettext(
                    "Votre compte ne peut pas être créé automatiquement. Contactez l'assistance : %(m)s"
                )
                % {"m": settings.HELPDESK_EMAIL},
            )
        return None
