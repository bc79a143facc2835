"""Forms of the help desk. They parse input; ``auth`` and ``services`` do the work."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from ent.accounts.forms import NewPasswordMixin
from ent.accounts.models import UpdateRequest
from ent.sso.models import Attribute, Service

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
    # Required by the view for a lost-address request only (see update_request_approve).
    identity_checked = forms.BooleanField(
        label=_("J'ai vérifié l'identité de l'étudiant"), required=False
    )

    def decision(self) -> tuple[str, bool]:
        """The reason (stripped) and the identity check; none of them when the form is invalid."""
        if not self.is_valid():
            return "", False
        return self.cleaned_data["reason"].strip(), bool(self.cleaned_data["identity_checked"])

    def refuses(self, *, item: UpdateRequest, action: str) -> bool:
        """Whether ``action`` must not be decided on this input; the error is then on the form.

        A refused reason (too long, NUL character) was once taken as no reason at all: the
        request was approved without the text the agent typed. A lost-address request is
        approved only once the agent has checked the student's identity.
        """
        identity_checked = self.decision()[1]
        if (
            action == "approve"
            and item.kind == UpdateRequest.Kind.LOST_EMAIL
            and item.is_open
            and not identity_checked
        ):
            self.add_error(
                "identity_checked",
                _("Vérifiez l'identité de l'étudiant et cochez la case avant d'accepter."),
            )
            return True
        return action in ("approve", "reject") and not self.is_valid()


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


# --- Service registry (administrators) -----------------------------------------------------------


def _service_formfield(field: Any, **kwargs: Any) -> Any:
    # Addresses typed without a scheme are taken as https (Django 6's default, said now).
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class ServiceForm(forms.ModelForm):  # type: ignore[type-arg]
    """A registry entry. Parses input only: ``ent.sso.registry.service_save`` checks the rules
    (patterns that fix the host, https redirect URIs…) and saves."""

    attributes = forms.MultipleChoiceField(
        label=_("Informations transmises au service"),
        choices=Attribute.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Le service ne reçoit rien d'autre sur l'étudiant."),
    )
    order = forms.IntegerField(
        label=_("Ordre"),
        min_value=0,
        max_value=9999,
        initial=100,
        help_text=_("Les tuiles du portail sont classées par ordre croissant."),
    )

    class Meta:
        model = Service
        formfield_callback = _service_formfield
        fields = [
            "name",
            "name_en",
            "slug",
            "description",
            "description_en",
            "icon",
            "home_url",
            "show_on_portal",
            "order",
            "protocol",
            "attributes",
            "logout_url",
            "cas_service_pattern",
            "cas_proxy_callback_pattern",
            "oidc_client_id",
            "oidc_redirect_uris",
            "trusted",
        ]
        widgets = {
            "protocol": forms.RadioSelect,
            "oidc_redirect_uris": forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
            "cas_service_pattern": forms.TextInput(attrs={"spellcheck": "false"}),
            "cas_proxy_callback_pattern": forms.TextInput(attrs={"spellcheck": "false"}),
            "oidc_client_id": forms.TextInput(attrs={"spellcheck": "false"}),
            "slug": forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
        }
        help_texts = {
            "name_en": _("Facultatif : montré aux étudiants qui lisent l'ENT en anglais."),
            "description": _(
                "Une phrase pour les étudiants, sans jargon technique : par exemple « Vos cours"
                " en ligne »."
            ),
            "description_en": _("Facultatif : la même phrase en anglais."),
            "slug": _("Lettres minuscules, chiffres et tirets ; il ne change plus guère ensuite."),
            "home_url": _("L'adresse ouverte par la tuile du portail."),
            "logout_url": _(
                "Facultatif. CAS : la demande de déconnexion y est envoyée (sinon à l'adresse"
                " de service). OpenID Connect : le jeton de déconnexion (back-channel)."
            ),
            "cas_service_pattern": _(
                "Expression régulière qui doit correspondre à toute l'adresse de service,"
                " et commencer par l'adresse exacte du site, points échappés : par exemple"
                " https://moodle\\.univ-perp\\.fr/.* (jamais .* seul)."
            ),
            "cas_proxy_callback_pattern": _(
                "Facultatif : adresses de rappel autorisées à recevoir des tickets de proxy,"
                " même règle."
            ),
            "oidc_client_id": _("Laissez vide pour en générer un."),
            "oidc_redirect_uris": _(
                "Une par ligne, comparées caractère par caractère ; https:// obligatoire"
                " (http:// seulement pour 127.0.0.1 ou localhost), sans fragment."
            ),
            "trusted": _("Service de l'université : l'étudiant n'a pas à consentir."),
        }
        error_messages = {
            "slug": {"invalid": _("Lettres minuscules, chiffres, tirets et soulignés seulement.")},
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No empty "---------" radio button: a service is CAS or OIDC.
        protocol = self.fields["protocol"]
        assert isinstance(protocol, forms.ChoiceField)
        protocol.choices = Service.Protocol.choices
        if self.instance.pk is not None:
            self.initial["attributes"] = list(self.instance.attributes or [])

    def clean_slug(self) -> str:
        """Said here too, so that it shows even when another field is wrong."""
        slug: str = self.cleaned_data["slug"]
        if Service.objects.filter(slug=slug).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("Ce nom court est déjà pris par un autre service."))
        return slug

    def validate_unique(self) -> None:
        # service_validate says it in French, next to the field.
        return None
