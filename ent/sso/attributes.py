"""The attributes of an account, filtered by what a service may receive (CAS and OIDC alike)."""

from __future__ import annotations

from django.conf import settings

from ent.accounts.models import Account

from .models import Attribute, Service


def attributes_all(account: Account) -> dict[str, str]:
    """Every releasable attribute of the account, by CAS name."""
    student = account.student
    if student is None:  # staff never sign in to services through CAS/OIDC here
        return {Attribute.UID: account.username}
    return {
        Attribute.UID: student.student_number,
        Attribute.SUPANN_ETU_ID: student.student_number,
        Attribute.MAIL: student.institutional_email,
        Attribute.DISPLAY_NAME: student.full_name,
        Attribute.GIVEN_NAME: student.first_name,
        Attribute.SN: student.last_name,
        Attribute.AFFILIATION: "student",
        Attribute.EPPN: f"{student.student_number}@{settings.EPPN_SCOPE}",
    }


def attributes_for(account: Account, service: Service) -> dict[str, str]:
    """Only the attributes the registry lets this service receive."""
    return {k: v for k, v in attributes_all(account).items() if service.allows_attribute(k)}
