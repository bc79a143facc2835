"""Forms of Courrier › Filtres: Transfert (and Répondeur)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ent.accounts.email_typos import suggest
from ent.accounts.forms_selfservice import CurrentPasswordField
from ent.accounts.models import Account
from ent.accounts.password_change import WrongPasswordError, password_verify

from . import forwarding
from .backends import MailStore, Vacation
from .forwarding import normalise_address


class ForwardingForm(forms.Form):
    """The guide's form: the address, "Conserver une copie…", Enregistrer.

    The password is asked only for an address other than the verified personal one (``save``
    decides, as it depends on the account); the field is always there so that no script is
    needed to show it.
    """

    address = forms.CharField(
        label=_("Adresse de transfert"),
        max_length=254,
        help_text=_(
            "Votre adresse personnelle vérifiée est utilisée tout de suite ; une autre adresse"
            " le sera après avoir suivi le lien de confirmation qui y sera envoyé."
        ),
        widget=forms.EmailInput(
            attrs={"autocomplete": "email", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )
    address_confirmed = forms.BooleanField(
        required=False,
        label=_("Mon adresse est correcte, l'utiliser telle quelle"),
        label_suffix="",
    )
    keep_copy = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Conserver une copie des messages dans ce compte"),
        label_suffix="",
        help_text=_(
            "Conseillé : si votre adresse personnelle refuse un message, il reste lisible dans le"
            " webmail."
        ),
    )
    current_password = CurrentPasswordField(
        label=_("Votre mot de passe (pour une autre adresse)"),
        required=False,
        help_text=_(
            "Seulement pour transférer vers une autre adresse que votre adresse personnelle"
            " vérifiée : pour vérifier que c'est bien vous."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.suggestion: str | None = None

    def clean_address(self) -> str:
        return normalise_address(self.cleaned_data["address"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        address = data.get("address")
        if address and not data.get("address_confirmed"):
            self.suggestion = suggest(address)
            if self.suggestion:
                self.add_error(
                    "address",
                    _(
                        "Vouliez-vous dire %(s)s ? Corrigez l'adresse, ou cochez « Mon adresse est correcte »."
                    )
                    % {"s": self.suggestion},
                )
        return data

    @staticmethod
    def initial_for(state: forwarding.ForwardingState) -> dict[str, Any]:
        """The rule in force, or else the verified personal address with a copy kept."""
        return {
            "address": state.rule.address if state.rule else state.personal_email,
            "keep_copy": state.rule.keep_copy if state.rule else True,
        }

    def save(
        self, *, account: Account, store: MailStore, ip: str | None
    ) -> forwarding.SetOutcome | None:
        """Ask for the valid form's rule (``forwarding_set``); the password first for an address
        that needs a link. ``None`` when the form gained an error; the address used is then in
        ``self.used_address``. ``TooManyRequestsError`` and ``MailStoreError`` propagate."""
        self.used_address: str = self.cleaned_data["address"]
        try:
            self.used_address = forwarding.forwarding_address_check(
                account=account, address=self.used_address, store=store
            )
            if forwarding.needs_verification(account=account, address=self.used_address):
                password = self.cleaned_data["current_password"]
                if not password:
                    self.add_error(
                        "current_password",
                        gettext(
                            "Saisissez votre mot de passe : il est demandé pour transférer vers"
                            " une autre adresse que votre adresse personnelle vérifiée."
                        ),
                    )
                    return None
                password_verify(account=account, password=password, ip=ip)
            return forwarding.forwarding_set(
                account=account,
                address=self.used_address,
                keep_copy=self.cleaned_data["keep_copy"],
                ip=ip,
                store=store,
            )
        except ValidationError as exc:
            self.add_error("address", exc)
        except WrongPasswordError as exc:
            self.add_error("current_password", exc.message())
        return None


class VacationForm(forms.Form):
    """Répondeur: the subject and message of the automatic reply, and until when."""

    subject = forms.CharField(label=_("Objet de la réponse"), max_length=200)
    body = forms.CharField(
        label=_("Message"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    until = forms.DateField(
        label=_("Jusqu'au (inclus)"),
        required=False,
        help_text=_("Facultatif. Au format jj/mm/aaaa ; sans date, le répondeur reste actif."),
        input_formats=["%d/%m/%Y", "%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": _("Date invalide : utilisez le format jj/mm/aaaa.")},
    )

    @staticmethod
    def initial_for(current: Vacation | None) -> dict[str, Any]:
        """The reply in force, or else a subject that says "away"."""
        if current is None:
            return {"subject": gettext("Absent(e)")}
        return {
            "subject": current.subject,
            "body": current.body,
            "until": current.until.date() if current.until else None,
        }

    def clean_subject(self) -> str:
        # A header: no line break may reach the Sieve script or the reply's headers.
        return " ".join(self.cleaned_data["subject"].split())

    def clean_until(self) -> date | None:
        until: date | None = self.cleaned_data.get("until")
        from ent.core import clock

        if until is not None and until < clock.now().date():
            raise forms.ValidationError(_("Cette date est déjà passée."))
        return until
