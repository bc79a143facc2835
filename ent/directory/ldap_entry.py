"""The directory entry of a student, as ENT writes it to the university's OpenLDAP (SupAnn 2021).

``entry_for(student, account, forwarding=…, now=…)`` builds the entry from ENT's records and
nothing else: no query, no network. It returns the whole set of attributes ENT manages
(``MANAGED_ATTRIBUTES``), so the writer replaces them at once and a retry changes nothing; a
managed attribute absent from ``Entry.attributes`` is one the writer removes (``userPassword``
when the account is locked, ``mailForwardingAddress`` when forwarding stops). Attributes of the
entry outside that list are not ENT's and are left alone.

The schemas (object classes and attribute names are theirs):

- inetOrgPerson (RFC 2798) and eduPerson (REFEDS): names, ``mail``, affiliations, EPPN;
- supannPerson (RENATER, SupAnn 2021, ``supann-2021.schema``): ``supannEtuId``,
  ``supannCodeINE``, ``supannMailPerso``, ``mailForwardingAddress`` and the account's life
  cycle in ``supannRessourceEtatDate``;
- schacPersonalCharacteristics (SCHAC, TERENA): ``schacDateOfBirth`` (YYYYMMDD).

The programme: ``Student.program`` is the label the student-information system exports
("Licence Mathématiques"). SupAnn's ``supannEtuInscription`` (and ``supannEtuDiplome``,
``supannEtuEtape``) hold coded values, ``[etab={UAI}…][anneeinsc=…][diplome={SISE}…]…``, that the
import does not carry, so the label is written to ``ou`` (organizationalPerson, part of
inetOrgPerson: a free-text unit), where LDAP clients such as Moodle read a department.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.conf import settings

from ent.accounts.models import Account

from .models import eppn_of, full_name_of


class StudentRecord(Protocol):
    """What an entry is built from: a ``Student``, or the same fields read with
    ``values_list`` (``ent.directory.queue.entries_of``: 100,000 model instances would cost
    seconds a resynchronisation does not have)."""

    @property
    def pk(self) -> Any: ...
    @property
    def student_number(self) -> str: ...
    @property
    def ine(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def first_name(self) -> str: ...
    @property
    def birth_date(self) -> date: ...
    @property
    def program(self) -> str: ...
    @property
    def institutional_email(self) -> str: ...


class AccountRecord(Protocol):
    """The fields of an ``Account`` that an entry is built from (see ``StudentRecord``)."""

    @property
    def kind(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def student_id(self) -> Any: ...
    @property
    def password(self) -> str: ...
    @property
    def personal_email(self) -> str: ...
    @property
    def personal_email_verified_at(self) -> datetime | None: ...
    @property
    def activated_at(self) -> datetime | None: ...


OBJECT_CLASSES = (
    "top",
    "inetOrgPerson",
    "eduPerson",
    "supannPerson",
    "schacPersonalCharacteristics",
)

# Every attribute ENT owns in an entry of its branch, in the order of the LDIF it prints.
MANAGED_ATTRIBUTES: tuple[str, ...] = (
    "objectClass",
    "uid",
    "cn",
    "sn",
    "givenName",
    "displayName",
    "mail",
    "supannMailPerso",
    "supannEtuId",
    "supannCodeINE",
    "eduPersonAffiliation",
    "eduPersonPrimaryAffiliation",
    "eduPersonPrincipalName",
    "schacDateOfBirth",
    "ou",
    "supannRessourceEtatDate",
    "mailForwardingAddress",
    "userPassword",
)

# SupAnn 2021's life cycle of a resource, in supannRessourceEtatDate:
# ``{RESSOURCE}ETAT:SOUS-ETAT:DEBUT:FIN``, dates as YYYYMMDD, an unknown date left empty. ETAT is
# A (active), I (inactive) or S (suspended); the sub-states are SupAnn's nomenclature
# (SupannActif, SupannPrecree, SupannInactif, SupannVerrouille, …). The resource is COMPTE.
RESOURCE = "COMPTE"
# ENT's account states (Account.State; None: imported, no account yet) as SupAnn states.
ACCOUNT_STATES: dict[str | None, tuple[str, str]] = {
    # Imported, nobody signed in yet: "compte pré-créé, pas encore opérationnel".
    None: ("I", "SupannPrecree"),
    # The activation form was filled in, its mailed link not followed: still not usable.
    Account.State.PENDING: ("I", "SupannPrecree"),
    Account.State.ACTIVE: ("A", "SupannActif"),
    # Locked by the help desk (the reason, administrative or technical, is in the audit log).
    Account.State.LOCKED: ("S", "SupannVerrouille"),
    Account.State.DISABLED: ("I", "SupannInactif"),
}

# What Django's Argon2PasswordHasher (ent.accounts.hashers) stores: "argon2" followed by the
# PHC string of argon2-cffi. slapd's argon2 module (Debian's slapd 2.5, ``moduleload argon2``)
# checks ``{ARGON2}`` followed by that very PHC string.
_DJANGO_ARGON2_PREFIX = "argon2"
_ARGON2ID_PHC = re.compile(
    r"\$argon2id\$v=19\$m=[0-9]+,t=[0-9]+,p=[0-9]+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
)
LDAP_PASSWORD_SCHEME = "{ARGON2}"  # noqa: S105 (a scheme name, no secret)

# RFC 4514, section 2.4: characters escaped anywhere in an attribute value of a DN.
_DN_SPECIALS = frozenset('\\",+;<>=')


@dataclass(frozen=True)
class Entry:
    """One entry: its DN and the values of every managed attribute it has (never an empty
    list, never an empty string)."""

    dn: str
    attributes: dict[str, list[str]] = field(default_factory=dict)


def escape_dn_value(value: str) -> str:
    """``value`` as an attribute value of a DN (RFC 4514, section 2.4).

    Written here because no LDAP library is installed yet (its choice belongs to the writer's
    issue); python-ldap's ``ldap.dn.escape_dn_chars`` does the same. Escapes ``\\ " , + ; < > =``
    everywhere, a ``#`` or space at the start, a space at the end, and NUL as ``\\00``.
    """
    out = []
    for i, char in enumerate(value):
        if char == "\0":
            out.append("\\00")
        elif (
            char in _DN_SPECIALS
            or (i == 0 and char in "# ")
            or (i == len(value) - 1 and char == " ")
        ):
            out.append("\\" + char)
        else:
            out.append(char)
    return "".join(out)


def uid_of(student: StudentRecord) -> str:
    """The entry's ``uid``, per ENT_LDAP_UID: the student number, or the local part of the
    institutional address."""
    return uid_from(student.student_number, student.institutional_email)


def uid_from(student_number: str, institutional_email: str) -> str:
    """``uid_of`` from the two fields it reads."""
    if settings.LDAP_UID == "mail_local_part":
        return institutional_email.rpartition("@")[0]
    return student_number


def dn_of(student: StudentRecord) -> str:
    """``uid=<uid>,<ENT_LDAP_PEOPLE_DN>``."""
    return dn_from(student.student_number, student.institutional_email)


def dn_from(student_number: str, institutional_email: str) -> str:
    """``dn_of`` from the two fields it reads."""
    uid = uid_from(student_number, institutional_email)
    return f"uid={escape_dn_value(uid)},{settings.LDAP_PEOPLE_DN}"


def ldap_password(encoded: str) -> str | None:
    """The ``userPassword`` value of a password ENT stores, or None when it is not argon2id.

    ``argon2$argon2id$v=19$m=…,t=…,p=…$salt$hash`` becomes
    ``{ARGON2}$argon2id$v=19$m=…,t=…,p=…$salt$hash``. Anything else (an unusable password
    ``!…``, an older argon2i or another hasher's hash) gives None: the directory never gets a
    hash weaker than the argon2id ENT checks itself, and then no password at all.
    """
    if not encoded.startswith(_DJANGO_ARGON2_PREFIX):
        return None
    phc = encoded[len(_DJANGO_ARGON2_PREFIX) :]
    if not _ARGON2ID_PHC.fullmatch(phc):
        return None
    return LDAP_PASSWORD_SCHEME + phc


def _yyyymmdd(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_day(moment: datetime) -> date:
    """The day of ``moment`` in ENT's time zone (``timezone.localdate``, five times faster)."""
    return moment.astimezone(_zone(settings.TIME_ZONE)).date()


def resource_state(account: AccountRecord | None, *, now: datetime) -> str:
    """The ``supannRessourceEtatDate`` value of the account, e.g. ``{COMPTE}A:SupannActif:20260901:``.

    The start date is one ENT records: the activation day of an active account (``now`` only
    if that is missing). Other states carry no date, since ENT keeps the day of a lock or a
    deactivation in the audit log only: rebuilding an entry must give the same value, or every
    resynchronisation would rewrite the whole branch. No end date: ENT knows none.
    """
    state, sub_state = ACCOUNT_STATES[account.state if account is not None else None]
    start = ""
    if account is not None and account.state == Account.State.ACTIVE:
        start = _yyyymmdd(_local_day(account.activated_at or now))
    return f"{{{RESOURCE}}}{state}:{sub_state}:{start}:"


def _ascii_address(address: str) -> str | None:
    """An address with its domain in IDNA (supannMailPerso is IA5: ASCII only), or None."""
    local, _at, domain = address.rpartition("@")
    try:
        ascii_address = f"{local}@{domain.encode('idna').decode('ascii')}"
        ascii_address.encode("ascii")
    except UnicodeError:
        return None
    return ascii_address


def _personal_email(account: AccountRecord | None) -> str | None:
    """The personal address, only once the student proved they read it."""
    if account is None or not account.personal_email or account.personal_email_verified_at is None:
        return None
    return _ascii_address(account.personal_email)


def _userpassword(account: AccountRecord | None) -> str | None:
    """The argon2id hash while the account is active; never for another state."""
    if account is None or account.state != Account.State.ACTIVE:
        return None
    return ldap_password(account.password)


def entry_for(
    student: StudentRecord,
    account: AccountRecord | None,
    *,
    forwarding: str | None = None,
    now: datetime,
) -> Entry:
    """The entry of ``student`` (``account``: theirs, None before activation).

    ``forwarding`` is the address of the forwarding rule in force (the webmail's filter), None
    when there is none. ``now`` dates an active account that has no activation time.
    """
    if account is not None and (
        account.kind != Account.Kind.STUDENT or account.student_id != student.pk
    ):
        raise ValueError(f"this account is not the account of student {student.pk}")
    uid = uid_of(student)
    full_name = full_name_of(student.first_name, student.last_name)
    values: dict[str, str | list[str] | None] = {
        "objectClass": list(OBJECT_CLASSES),
        "uid": uid,
        "cn": full_name,
        "sn": student.last_name,
        "givenName": student.first_name,
        "displayName": full_name,
        "mail": student.institutional_email,
        "supannMailPerso": _personal_email(account),
        "supannEtuId": student.student_number,
        "supannCodeINE": student.ine,
        "eduPersonAffiliation": ["student", "member"],
        "eduPersonPrimaryAffiliation": "student",
        "eduPersonPrincipalName": eppn_of(student.student_number),
        "schacDateOfBirth": _yyyymmdd(student.birth_date),
        "ou": student.program,
        "supannRessourceEtatDate": resource_state(account, now=now),
        "mailForwardingAddress": forwarding,
        "userPassword": _userpassword(account),
    }
    attributes: dict[str, list[str]] = {}
    for name in MANAGED_ATTRIBUTES:
        value = values[name]
        listed = [value] if isinstance(value, str) else list(value or ())
        listed = [v for v in listed if v]
        if listed:
            attributes[name] = listed
    return Entry(dn=dn_of(student), attributes=attributes)
