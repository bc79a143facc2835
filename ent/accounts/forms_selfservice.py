"""Forms of the self-service pages: forgotten password, password change, address change."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from . import password_policy
from .email_change import normalise_email
from .forms import NewPasswordMixin
from .models import Account


class ResetRequestForm(forms.Form):
    """ "J'ai oublié mon mot de passe": the student number or the institutional address."""

    identifier = forms.CharField(
        label=_("Numéro étudiant ou adresse de l'université"),
        max_length=254,
        help_text=_("Par exemple 21900042 ou prenom.nom@etudiant.univ-perp.fr"),
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )

    def __init__(self, *args: Any, mail_domain: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if mail_domain:
            self.fields["identifier"].help_text = _(
                "Par exemple 21900042 ou prenom.nom@%(domain)s"
            ) % {"domain": mail_domain}


class AccountPasswordMixin(NewPasswordMixin):
    """New password twice, checked against the policy with the account's personal data."""

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.fields["password1"].label = _("Nouveau mot de passe")
        self.fields["password2"].label = _("Confirmez le nouveau mot de passe")

    def personal_data(self) -> list[str]:
        data = password_policy.personal_data_of(self.account.student)
        return data or [self.account.username]


class ResetPasswordForm(AccountPasswordMixin):
    """The page behind the reset link: the new password twice."""


class CurrentPasswordField(forms.CharField):
    """The current password typed again."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Mot de passe actuel"))
        super().__init__(
            strip=False,
            max_length=4096,
            widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
            **kwargs,
        )


class PasswordChangeForm(AccountPasswordMixin):
    """Signed in: the current password, then the new one twice."""

    current_password = CurrentPasswordField()
    field_order = ["current_password", "password1", "password2"]


class EmailChangeForm(forms.Form):
    """Signed in: the new personal address, and the password to prove it is you."""

    email = forms.CharField(
        label=_("Nouvelle adresse mail personnelle"),
        max_length=254,
        help_text=_(
            "Un lien de confirmation y sera envoyé ; l'adresse actuelle reste utilisée d'ici là."
        ),
        widget=forms.EmailInput(
            attrs={"autocomplete": "email", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )
    current_password = CurrentPasswordField(
        label=_("Votre mot de passe"),
        help_text=_("Pour vérifier que c'est bien vous."),
    )

    def clean_email(self) -> str:
        return normalise_email(self.cleaned_data["email"])
