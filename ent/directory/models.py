"""People as the student-information system knows them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def full_name_of(first_name: str, last_name: str) -> str:
    """What ``Student.full_name`` shows (also for code that reads the names without a model)."""
    return f"{first_name} {last_name}"


def eppn_of(student_number: str) -> str:
    """The student's eduPersonPrincipalName, ``<student number>@ENT_EPPN_SCOPE``: the one value
    single sign-on releases (ent.sso.attributes) and the directory holds (ldap_entry), whatever
    the directory's ``uid`` (ENT_LDAP_UID), since an EPPN must never change for a person."""
    return f"{student_number}@{settings.EPPN_SCOPE}"


class Student(models.Model):
    """One student record, owned by the import (``ent import-students``).

    The import may change names, birth date, INE and programme; it never touches the account
    (credentials, personal address, state), which lives in ``accounts.Account``. The
    institutional address is given once, at creation, and stays stable afterwards.
    """

    student_number = models.CharField(_("numéro étudiant"), max_length=32, unique=True)
    ine = models.CharField(_("INE"), max_length=11, unique=True)
    last_name = models.CharField(_("nom"), max_length=150)
    first_name = models.CharField(_("prénom"), max_length=150)
    birth_date = models.DateField(_("date de naissance"))
    program = models.CharField(_("formation"), max_length=200, blank=True)
    institutional_email = models.EmailField(_("adresse institutionnelle"), unique=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_seen_in_import_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("étudiant")
        indexes = [models.Index(fields=["last_name", "first_name"])]

    def __str__(self) -> str:
        return f"{self.full_name} ({self.student_number})"

    @property
    def full_name(self) -> str:
        """First name then last name, as the guide's mail greets: "Blaise Pascal"."""
        return full_name_of(self.first_name, self.last_name)


class DirectoryEntry(models.Model):
    """ENT's record of one student's entry in the LDAP directory (``ENT_LDAP_URL``), and the
    queue of changes waiting to be written there (``ent.directory.queue``).

    One row per student, keyed by student number rather than by a foreign key, so that the row
    outlives a purged student and the writer removes the entry. A change sets ``pending`` and a
    fresh ``change`` token in the transaction that makes it; the writer claims the row, builds
    the entry from ENT's records as they are then, replaces it in the directory, and clears
    ``pending`` only if ``change`` is still the token it claimed: a change made meanwhile stays
    pending and is written after, so an earlier write never overtakes a later change.
    """

    student_number = models.CharField(max_length=32, unique=True)
    # The DN last written (to rename or remove the entry once the student record is gone).
    dn = models.CharField(max_length=512, blank=True)
    pending = models.BooleanField(default=True)
    change = models.CharField(max_length=32)
    changed_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # The claim's own token: a writer records only the rows it still holds.
    claimed_by = models.CharField(max_length=32, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("entrée de l'annuaire")
        indexes = [
            # The writer's poll: the waiting rows, oldest first (a small partial index).
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(pending=True),
                name="directory_entry_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.student_number} ({'waiting' if self.pending else 'in step'})"
