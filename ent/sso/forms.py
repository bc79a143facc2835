"""The sign-in form."""

from django import forms
from django.utils.translation import gettext_lazy as _


class LoginForm(forms.Form):
    """Identifiant (student number or institutional address) and password."""

    identifier = forms.CharField(
        label=_("Identifiant (numéro étudiant)"),
        max_length=254,
        help_text=_("Votre numéro étudiant, ou votre adresse de l'université."),
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    password = forms.CharField(
        label=_("Mot de passe"),
        strip=False,
        max_length=4096,
        help_text=_(
            "Pas encore activé ? Saisissez votre code INE : vous serez conduit à l'activation."
        ),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
