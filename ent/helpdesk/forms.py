"""Forms of the help desk. They parse input; ``auth`` and ``services`` do the work."""

from __future__ import annotations

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from ent.accounts.forms import NewPasswordMixin
from ent.accounts.models import UpdateRequest

from .roles import ROLE_LABELS, Role


class StaffLoginForm(forms.Form):
    """Help-desk sign-in, step 1."""

    username = forms.CharField(
        label=_("Identifiant"),
        max_length=150,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    password = forms.CharField(
        label=_("Mot de passe"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TotpForm(forms.Form):
    """Help-desk sign-in, step 2 (and enrolment): the 6-digit code of the application."""

    code = forms.CharField(
        label=_("Code à usage unique"),
        max_length=16,
        help_text=_("Les 6 chiffres affichés par votre application d'authentification."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9 ]*",
                "spellcheck": "false",
            }
        ),
    )


class SearchForm(forms.Form):
    """Search students."""

    q = forms.CharField(
        label=_("Rechercher un étudiant"),
        max_length=200,
        required=False,
        help_text=_("Numéro étudiant, nom, code INE, adresse institutionnelle ou personnelle."),
        widget=forms.TextInput(attrs={"type": "search", "spellcheck": "false"}),
    )


STATUS_FILTERS = [
    ("open", _("À traiter (nouvelles et en cours)")),
    *UpdateRequest.Status.choices,
    ("all", _("Toutes")),
]


class RequestFilterForm(forms.Form):
    """Filter the update-request queue."""

    status = forms.ChoiceField(label=_("État"), choices=STATUS_FILTERS, required=False)
    kind = forms.ChoiceField(
        label=_("Objet"),
        choices=[("", _("Tous")), *UpdateRequest.Kind.choices],
        required=False,
    )


class DecisionForm(forms.Form):
    """Approve or reject, with a reason (required to reject)."""

    reason = forms.CharField(
        label=_("Motif (envoyé à l'étudiant)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


ROLE_CHOICES = [(role.value, ROLE_LABELS[role]) for role in Role]


class StaffCreateForm(forms.Form):
    """A new staff member: they choose their own password through the mailed link."""

    username = forms.CharField(
        label=_("Identifiant"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    email = forms.EmailField(
        label=_("Adresse mail professionnelle"),
        max_length=254,
        help_text=_("Le lien pour choisir le mot de passe y est envoyé."),
    )
    role = forms.ChoiceField(label=_("Rôle"), choices=ROLE_CHOICES)


class RoleForm(forms.Form):
    """Change a staff member's role."""

    role = forms.ChoiceField(label=_("Rôle"), choices=ROLE_CHOICES)


class StaffPasswordForm(NewPasswordMixin):
    """The invited staff member chooses a password (twice, under the policy)."""
