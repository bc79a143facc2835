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
