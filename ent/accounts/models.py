"""Accounts: the credentials and state of a person who signs in to ENT."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils.translation import gettext_lazy as _


class AccountManager(BaseUserManager["Account"]):
    """Creates staff accounts from ``ent createsuperuser``; students get theirs at activation."""

    def create_user(self, username: str, password: str | None = None, **extra: Any) -> Account:
        """A staff account (students are created by the activation journey)."""
        extra.setdefault("kind", Account.Kind.STAFF)
        extra.setdefault("state", Account.State.ACTIVE)
        account = self.model(username=username, **extra)
        account.set_password(password)
        account.save(using=self._db)
        return account

    def create_superuser(self, username: str, password: str | None = None, **extra: Any) -> Account:
        """An administrator account."""
        extra["is_superuser"] = True
        return self.create_user(username, password, **extra)


def account_state_is_active(state: str) -> bool:
    """Whether an account in ``state`` may hold a session (``Account.is_active``; the CAS fast
    path asks it of a state column it read itself)."""
    return state == Account.State.ACTIVE


class Account(AbstractBaseUser, PermissionsMixin):
    """A student account (linked to its directory record) or a staff account.

    ``state`` is the lifecycle: *pending* from the activation form until the mailed link is
    followed, then *active*. Only an active account can sign in; the backend refuses sessions
    of any other state, so locking an account ends its sessions.
    """

    class Kind(models.TextChoices):
        STUDENT = "student", _("Étudiant")
        STAFF = "staff", _("Personnel")

    class State(models.TextChoices):
        PENDING = "pending", _("En attente de confirmation")
        ACTIVE = "active", _("Actif")
        LOCKED = "locked", _("Bloqué")
        DISABLED = "disabled", _("Désactivé")

    username = models.CharField(_("identifiant"), max_length=150, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.STUDENT)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    student = models.OneToOneField(
        "directory.Student",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="account",
    )
    personal_email = models.EmailField(_("adresse personnelle"), blank=True)
    personal_email_verified_at = models.DateTimeField(null=True, blank=True)
    charter_version = models.CharField(max_length=32, blank=True)
    charter_accepted_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The forwarding rule in force as ENT last set it (Courrier › Filtres › Transfert): the
    # directory's mailForwardingAddress. The rule itself lives in the mail store, which the
    # directory writer does not read entry by entry.
    forwarding_address = models.EmailField(blank=True)

    objects = AccountManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("compte")

    def __str__(self) -> str:
        return self.username

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        """Only an active account may hold a session."""
        return account_state_is_active(self.state)

    @property
    def is_staff(self) -> bool:
        """Staff accounts (help desk), never students."""
        return self.kind == self.Kind.STAFF

    @property
    def display_name(self) -> str:
        """ "Prénom Nom" for students, the username for staff."""
        return self.student.full_name if self.student_id and self.student else self.username


class AccountSession(models.Model):
    """One signed-in session of an account (written at login, removed at logout).

    Sessions live in the session store (database today, Redis later), which cannot be searched
    by account. This table is the index: the help desk lists an account's sessions, and a
    password change or reset ends every other one (see ``ent.accounts.sessions``).
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="sessions")
    session_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"session of account {self.account_id} since {self.created_at:%Y-%m-%d %H:%M}"


class UpdateRequest(models.Model):
    """A student's request to correct their data ("Faire une demande de mise à jour").

    No attachment is accepted (data minimisation): a kind, a short message and, where it makes
    sense, the corrected value. ``contact_email`` is where the acknowledgement and decisions are
    mailed; ``contact_verified`` says whether ENT had verified it (the account's personal
    address) or took it from the request as typed.
    """

    class Kind(models.TextChoices):
        NAME = "name", _("Orthographe du nom ou du prénom")
        LOST_EMAIL = "lost_email", _("Perte de l'accès à l'adresse personnelle")
        BIRTH_DATE = "birth_date", _("Date de naissance")
        INE = "ine", _("Code INE")
        OTHER = "other", _("Autre")

    class Status(models.TextChoices):
        NEW = "new", _("Nouvelle")
        IN_PROGRESS = "in_progress", _("En cours")
        APPROVED = "approved", _("Acceptée")
        REJECTED = "rejected", _("Refusée")

    MESSAGE_MAX_LENGTH = 2000

    reference = models.CharField(_("référence"), max_length=20, unique=True)
    student = models.ForeignKey(
        "directory.Student", on_delete=models.CASCADE, related_name="update_requests"
    )
    kind = models.CharField(_("objet"), max_length=16, choices=Kind.choices)
    message = models.TextField(_("message"), max_length=MESSAGE_MAX_LENGTH)
    new_first_name = models.CharField(max_length=150, blank=True)
    new_last_name = models.CharField(max_length=150, blank=True)
    new_birth_date = models.DateField(null=True, blank=True)
    new_ine = models.CharField(max_length=11, blank=True)
    new_email = models.EmailField(blank=True)
    # The directory's values just before an accepted correction replaced them: once the
    # student's record holds the new ones, the request still shows what it changed.
    old_first_name = models.CharField(max_length=150, blank=True)
    old_last_name = models.CharField(max_length=150, blank=True)
    old_birth_date = models.DateField(null=True, blank=True)
    old_ine = models.CharField(max_length=11, blank=True)
    contact_email = models.EmailField()
    contact_verified = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    assigned_to = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "kind"])]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_open(self) -> bool:
        """Still waiting for a decision."""
        return self.status in (self.Status.NEW, self.Status.IN_PROGRESS)

    @property
    def corrected(self) -> bool:
        """An accepted correction of the directory: the ``old_*`` values are the ones before."""
        return self.status == self.Status.APPROVED and self.kind in (
            self.Kind.NAME,
            self.Kind.BIRTH_DATE,
            self.Kind.INE,
        )
