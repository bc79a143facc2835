"""The attributes of an account, filtered by what a service may receive (CAS and OIDC alike)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ent.accounts.models import Account
from ent.directory.models import eppn_of, full_name_of

from .models import Attribute, Service


def attributes_all(account: Account) -> dict[str, str]:
    """Every releasable attribute of the account, by CAS name."""
    student = account.student
    if student is None:  # staff never sign in to services through CAS/OIDC here
        return {Attribute.UID: account.username}
    return student_attributes(
        student_number=student.student_number,
        institutional_email=student.institutional_email,
        first_name=student.first_name,
        last_name=student.last_name,
    )


def student_attributes(
    *, student_number: str, institutional_email: str, first_name: str, last_name: str
) -> dict[str, str]:
    """``attributes_all`` of a student's account, from the student's columns (CAS validation
    reads them in its own statement and builds no model instance)."""
    return {
        Attribute.UID: student_number,
        Attribute.SUPANN_ETU_ID: student_number,
        Attribute.MAIL: institutional_email,
        Attribute.DISPLAY_NAME: full_name_of(first_name, last_name),
        Attribute.GIVEN_NAME: first_name,
        Attribute.SN: last_name,
        Attribute.AFFILIATION: "student",
        Attribute.EPPN: eppn_of(student_number),
    }


def attributes_released(
    everything: Mapping[str, str], allowed: Sequence[str] | None
) -> dict[str, str]:
    """The part of ``everything`` a service may receive, ``allowed`` being its registry list
    (``Service.attributes``; the CAS fast path passes the column it read itself)."""
    allowed = allowed or ()
    return {name: value for name, value in everything.items() if name in allowed}


def attributes_for(account: Account, service: Service) -> dict[str, str]:
    """Only the attributes the registry lets this service receive."""
    return attributes_released(attributes_all(account), service.attributes)
