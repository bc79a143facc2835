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
        return self.state == self.State.ACTIVE

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
