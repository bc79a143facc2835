"""The directory entry of a student (ent.directory.ldap_entry): every attribute, each account
state, the forwarding, the uid per ENT_LDAP_UID, DN escaping and the argon2id password."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from argon2 import PasswordHasher
from django.utils import timezone

from ent.accounts import lifecycle
from ent.accounts.models import Account
from ent.directory.ldap_entry import (
    MANAGED_ATTRIBUTES,
    OBJECT_CLASSES,
    Entry,
    entry_for,
    escape_dn_value,
    ldap_password,
)
from ent.directory.models import Student
from tests.conftest import GOOD_PASSWORD, start_activation

pytestmark = pytest.mark.django_db

State = Account.State
NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
PEOPLE = "ou=people,dc=univ-perp,dc=fr"


@pytest.fixture(autouse=True)
def _directory_settings(settings: Any) -> None:
    settings.LDAP_PEOPLE_DN = PEOPLE
    settings.LDAP_UID = "student_number"
    settings.EPPN_SCOPE = "univ-perp.fr"


@pytest.fixture
def argon2id(settings: Any) -> None:
    """The production hasher (the suite's default is MD5), at its smallest memory cost."""
    settings.PASSWORD_HASHERS = ["ent.accounts.hashers.ENTArgon2PasswordHasher"]
    settings.ARGON2_MEMORY_COST = 8192


@pytest.fixture
def staff(make_staff: Any) -> Account:
    account: Account = make_staff("administrator")
    return account


def account_of(student: Student) -> Account:
    return Account.objects.get(student=student)


def values(entry: Entry, name: str) -> list[str] | None:
    return entry.attributes.get(name)


# --- Every attribute ------------------------------------------------------------------------


def test_entry_of_an_active_student(argon2id: None, make_active_student: Any) -> None:
    student = make_active_student(
        email="sophie@example.org",
        first_name="Sophie",
        last_name="Germain",
        birth_date=date(2005, 4, 1),
        program="Licence Mathématiques",
    )
    account = account_of(student)
    entry = entry_for(student, account, now=NOW)
    number = student.student_number
    assert entry.dn == f"uid={number},{PEOPLE}"
    activated = timezone.localdate(account.activated_at).strftime("%Y%m%d")
    password = entry.attributes.pop("userPassword")
    assert entry.attributes == {
        "objectClass": [
            "top",
            "inetOrgPerson",
            "eduPerson",
            "supannPerson",
            "schacPersonalCharacteristics",
        ],
        "uid": [number],
        "cn": ["Sophie Germain"],
        "sn": ["Germain"],
        "givenName": ["Sophie"],
        "displayName": ["Sophie Germain"],
        "mail": [student.institutional_email],
        "supannMailPerso": ["sophie@example.org"],
        "supannEtuId": [number],
        "supannCodeINE": [student.ine],
        "eduPersonAffiliation": ["student", "member"],
        "eduPersonPrimaryAffiliation": ["student"],
        "eduPersonPrincipalName": [f"{number}@univ-perp.fr"],
        "schacDateOfBirth": ["20050401"],
        "ou": ["Licence Mathématiques"],
        "supannRessourceEtatDate": [f"{{COMPTE}}A:SupannActif:{activated}:"],
    }
    assert password == ["{ARGON2}" + account.password.removeprefix("argon2")]


def test_institutional_address_is_the_mailbox(make_student: Any) -> None:
    student = make_student(first_name="Émilie", last_name="du Châtelet")
    entry = entry_for(student, None, now=NOW)
    assert student.institutional_email.endswith("@etudiant.univ-perp.fr")
    assert values(entry, "mail") == [student.institutional_email]


def test_managed_attributes_cover_the_entry(argon2id: None, make_active_student: Any) -> None:
    student = make_active_student()
    entry = entry_for(student, account_of(student), forwarding="me@example.org", now=NOW)
    assert set(entry.attributes) == set(MANAGED_ATTRIBUTES)
    assert list(entry.attributes) == list(MANAGED_ATTRIBUTES)  # the LDIF's order
    assert all(v and all(v) for v in entry.attributes.values())  # no empty value, no empty list
    assert values(entry, "objectClass") == list(OBJECT_CLASSES)


def test_empty_programme_writes_no_ou(make_student: Any) -> None:
    student = make_student(program="")
    assert "ou" not in entry_for(student, None, now=NOW).attributes


def test_birth_date_as_yyyymmdd(make_student: Any) -> None:
    student = make_student(birth_date=date(1999, 12, 31))
    assert values(entry_for(student, None, now=NOW), "schacDateOfBirth") == ["19991231"]


def test_same_records_same_entry(make_active_student: Any) -> None:
    """Rebuilt later, the entry is the same: a resynchronisation finds nothing to change."""
    student = make_active_student()
    account = account_of(student)
    later = datetime(2027, 6, 1, tzinfo=UTC)
    assert entry_for(student, account, now=NOW) == entry_for(student, account, now=later)


# --- Each account state -----------------------------------------------------------------------


def test_imported_student_without_account(make_student: Any) -> None:
    entry = entry_for(make_student(), None, now=NOW)
    assert values(entry, "supannRessourceEtatDate") == ["{COMPTE}I:SupannPrecree::"]
    for name in ("userPassword", "supannMailPerso", "mailForwardingAddress"):
        assert name not in entry.attributes


def test_pending_account(argon2id: None, make_student: Any) -> None:
    student = make_student()
    start_activation(student, "pending@example.org")
    account = account_of(student)
    assert account.state == State.PENDING and account.password.startswith("argon2$argon2id$")
    entry = entry_for(student, account, now=NOW)
    assert values(entry, "supannRessourceEtatDate") == ["{COMPTE}I:SupannPrecree::"]
    # Its password is chosen but not confirmed; its address not verified yet.
    assert "userPassword" not in entry.attributes
    assert "supannMailPerso" not in entry.attributes


def test_locked_account(argon2id: None, make_active_student: Any, staff: Account) -> None:
    student = make_active_student(email="locked@example.org")
    account = account_of(student)
    lifecycle.account_lock(account=account, actor=staff, ip=None)
    account.refresh_from_db()
    entry = entry_for(student, account, now=NOW)
    assert values(entry, "supannRessourceEtatDate") == ["{COMPTE}S:SupannVerrouille::"]
    assert "userPassword" not in entry.attributes
    assert values(entry, "supannMailPerso") == ["locked@example.org"]
    lifecycle.account_unlock(account=account, actor=staff, ip=None)
    account.refresh_from_db()
    entry = entry_for(student, account, now=NOW)
    assert values(entry, "userPassword") == ["{ARGON2}" + account.password[len("argon2") :]]
    (state,) = values(entry, "supannRessourceEtatDate") or []
    assert state.startswith("{COMPTE}A:SupannActif:")


def test_disabled_account(argon2id: None, make_active_student: Any, staff: Account) -> None:
    student = make_active_student()
    account = account_of(student)
    lifecycle.account_disable(account=account, actor=staff, ip=None)
    account.refresh_from_db()
    entry = entry_for(student, account, now=NOW)
    assert values(entry, "supannRessourceEtatDate") == ["{COMPTE}I:SupannInactif::"]
    assert "userPassword" not in entry.attributes


def test_active_account_dated_by_its_activation(make_active_student: Any) -> None:
    student = make_active_student()
    account = account_of(student)
    account.activated_at = datetime(2026, 9, 1, 22, 30, tzinfo=UTC)  # 2 September in Paris
    assert values(entry_for(student, account, now=NOW), "supannRessourceEtatDate") == [
        "{COMPTE}A:SupannActif:20260902:"
    ]
    account.activated_at = None  # never for a student; ``now`` then dates the state
    assert values(entry_for(student, account, now=NOW), "supannRessourceEtatDate") == [
        "{COMPTE}A:SupannActif:20261204:"
    ]


def test_account_of_someone_else_refused(make_active_student: Any, staff: Account) -> None:
    student, other = make_active_student(), make_active_student()
    with pytest.raises(ValueError, match="is not the account of student"):
        entry_for(student, account_of(other), now=NOW)
    with pytest.raises(ValueError, match="is not the account of student"):
        entry_for(student, staff, now=NOW)


# --- The personal address and the forwarding --------------------------------------------------


def test_unverified_personal_address_absent(make_active_student: Any) -> None:
    student = make_active_student(email="first@example.org")
    account = account_of(student)
    account.personal_email = "typed-not-verified@example.org"
    account.personal_email_verified_at = None
    assert "supannMailPerso" not in entry_for(student, account, now=NOW).attributes


def test_personal_address_domain_in_ascii(make_active_student: Any) -> None:
    """supannMailPerso is an IA5 string: an internationalised domain is written in IDNA."""
    student = make_active_student()
    account = account_of(student)
    account.personal_email = "marie@université.fr"
    assert values(entry_for(student, account, now=NOW), "supannMailPerso") == [
        "marie@xn--universit-j4a.fr"
    ]


def test_forwarding_on_and_off(make_active_student: Any) -> None:
    student = make_active_student()
    account = account_of(student)
    on = entry_for(student, account, forwarding="sophie@example.org", now=NOW)
    assert values(on, "mailForwardingAddress") == ["sophie@example.org"]
    off = entry_for(student, account, forwarding=None, now=NOW)
    assert "mailForwardingAddress" not in off.attributes
    assert "mailForwardingAddress" not in entry_for(student, account, now=NOW).attributes


# --- uid, DN and its escaping -----------------------------------------------------------------


def test_uid_is_the_student_number_by_default(make_student: Any) -> None:
    student = make_student()
    entry = entry_for(student, None, now=NOW)
    assert values(entry, "uid") == [student.student_number]
    assert entry.dn == f"uid={student.student_number},{PEOPLE}"


def test_uid_from_the_mail_local_part(settings: Any, make_student: Any) -> None:
    settings.LDAP_UID = "mail_local_part"
    settings.LDAP_PEOPLE_DN = "ou=etudiants,dc=example,dc=fr"
    student = make_student(first_name="Ada", last_name="Lovelace")
    local = student.institutional_email.split("@")[0]
    assert local == "ada.lovelace"
    entry = entry_for(student, None, now=NOW)
    assert entry.dn == "uid=ada.lovelace,ou=etudiants,dc=example,dc=fr"
    assert values(entry, "uid") == ["ada.lovelace"]
    # The EPPN stays the student number's, the value single sign-on releases: it never changes.
    assert values(entry, "eduPersonPrincipalName") == [f"{student.student_number}@univ-perp.fr"]
    assert values(entry, "supannEtuId") == [student.student_number]


def test_dn_value_escaped(settings: Any) -> None:
    settings.LDAP_UID = "mail_local_part"
    student = Student(
        pk=1,
        student_number="21234567",
        ine="123456789AB",
        last_name="O'Neil",
        first_name="Ann",
        birth_date=date(2004, 1, 2),
        institutional_email='#a+b,c;d"e<f>g=h\\i @etudiant.univ-perp.fr',
    )
    entry = entry_for(student, None, now=NOW)
    assert entry.dn == f'uid=\\#a\\+b\\,c\\;d\\"e\\<f\\>g\\=h\\\\i\\ ,{PEOPLE}'
    assert values(entry, "uid") == ['#a+b,c;d"e<f>g=h\\i ']  # the value itself unchanged


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("21234567", "21234567"),
        ("ada.lovelace", "ada.lovelace"),
        ("a,b", "a\\,b"),
        ("a+b", "a\\+b"),
        ('a"b', 'a\\"b'),
        ("a\\b", "a\\\\b"),
        ("a;b<c>d", "a\\;b\\<c\\>d"),
        ("a=b", "a\\=b"),
        ("#a#", "\\#a#"),
        (" a b ", "\\ a b\\ "),
        (" ", "\\ "),
        ("a\0b", "a\\00b"),
        ("Émilie", "Émilie"),  # UTF-8 stays as it is (RFC 4514 allows it)
        ("", ""),
    ],
)
def test_escape_dn_value(value: str, escaped: str) -> None:
    assert escape_dn_value(value) == escaped


# --- userPassword: the very argon2id hash, nothing weaker -------------------------------------


def test_password_hash_slapd_accepts(argon2id: None, make_active_student: Any) -> None:
    student = make_active_student()
    account = account_of(student)
    (value,) = values(entry_for(student, account, now=NOW), "userPassword") or []
    # slapd's argon2 module: {ARGON2} then the PHC string of libargon2.
    assert value.startswith("{ARGON2}$argon2id$v=19$m=8192,t=2,p=1$")
    phc = value.removeprefix("{ARGON2}")
    assert PasswordHasher().verify(phc, GOOD_PASSWORD)


@pytest.mark.parametrize(
    "encoded",
    [
        "!MoPhDKmyDQItkrQzyY0Gyn60tFNS1qqJlZDG9shV",  # unusable password
        "",
        "md5$salt$0123456789abcdef0123456789abcdef",
        "pbkdf2_sha256$1000000$salt$aGFzaA==",
        "argon2$argon2i$v=19$m=512,t=2,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",  # argon2i: weaker
        "argon2$argon2d$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "argon2$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",  # old version
        "argon2$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",  # no hash
        "argon2$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFz\naGhh",
        "{ARGON2}$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
    ],
)
def test_no_password_unless_argon2id(encoded: str) -> None:
    assert ldap_password(encoded) is None


def test_argon2id_hash_converted() -> None:
    encoded = "argon2$argon2id$v=19$m=19456,t=2,p=1$MzVtOFpiVUtab1BC$O6m6l8+DXsr/Q0jWmpDKRq"
    assert ldap_password(encoded) == "{ARGON2}" + encoded[len("argon2") :]


def test_active_account_with_unusable_password_gets_none(make_active_student: Any) -> None:
    student = make_active_student()
    account = account_of(student)
    account.set_unusable_password()
    assert "userPassword" not in entry_for(student, account, now=NOW).attributes


def test_active_account_with_md5_hash_gets_none(make_active_student: Any) -> None:
    """The suite's MD5 hasher stands for any hash that is not argon2id."""
    student = make_active_student()
    account = account_of(student)
    assert account.password.startswith("md5$")
    assert "userPassword" not in entry_for(student, account, now=NOW).attributes
