"""The example directory of docs/ldap/ on a real slapd: schemas, argon2 passwords, ACLs.

Every check goes through the ldap-utils command-line tools (ldapadd, ldapmodify, ldapsearch,
ldapwhoami), as a university's scripts and services would talk to the directory.
"""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.hashers import make_password

from ent.accounts.hashers import ENTArgon2PasswordHasher
from tests.directory.slapd import SlapdServer

PRIVATE = ("supannCodeINE", "schacDateOfBirth", "supannMailPerso", "userPassword")


def ent_argon2(password: str) -> str:
    """The argon2id string ENT stores for ``password``, without Django's "argon2" prefix:
    ``$argon2id$v=19$m=…,t=…,p=…$salt$hash``, made by ENT's own hasher and settings."""
    encoded = make_password(password, hasher=ENTArgon2PasswordHasher())
    prefix = ENTArgon2PasswordHasher.algorithm
    assert encoded.startswith(prefix + "$argon2id$v=19$m="), encoded
    return encoded[len(prefix) :]


def student_ldif(slapd: SlapdServer, uid: str, *, password_hash: str | None = None) -> str:
    """An entry with every attribute of issue 15 §1."""
    lines = [
        f"dn: uid={uid},{slapd.people_dn}",
        "objectClass: inetOrgPerson",
        "objectClass: eduPerson",
        "objectClass: supannPerson",
        "objectClass: schacPersonalCharacteristics",
        "objectClass: schacLinkageIdentifiers",
        f"uid: {uid}",
        "cn: Lucie Martin",
        "sn: Martin",
        "givenName: Lucie",
        "displayName: Lucie Martin",
        f"mail: {uid}@etudiant.univ-perp.fr",
        f"supannMailPerso: lucie.martin.{uid}@example.org",
        f"supannEtuId: {uid}",
        "supannCodeINE: 1234567890A",
        "eduPersonAffiliation: student",
        "eduPersonAffiliation: member",
        "eduPersonPrimaryAffiliation: student",
        f"eduPersonPrincipalName: {uid}@univ-perp.fr",
        "schacDateOfBirth: 20050317",
        "schacPersonalUniqueCode: urn:schac:personalUniqueCode:int:esi:fr:1234567890A",
        "supannEtuInscription: [etab={UAI}0660437S][anneeinsc=2026][regimeinsc={SISE}10]"
        "[typedip={SISE}XB][cursusann={SUPANN}L1][diplome={SISE}2500001]",
        "supannRessourceEtatDate: {COMPTE}A:SupannActif::20270831",
        f"mailForwardingAddress: lucie.martin.{uid}@example.org",
    ]
    if password_hash is not None:
        lines.append(f"userPassword: {{ARGON2}}{password_hash}")
    return "\n".join(lines) + "\n"


def read_entry(
    slapd: SlapdServer, uid: str, *, bind_dn: str | None, password: str | None = None
) -> dict[str, list[str]]:
    """The attributes of a student's entry that ``bind_dn`` may read (None: anonymous)."""
    done = slapd.ldap(
        "ldapsearch",
        "-LLL",
        "-o",
        "ldif-wrap=no",
        "-s",
        "base",
        "-b",
        f"uid={uid},{slapd.people_dn}",
        "*",
        bind_dn=bind_dn,
        password=password,
        check=False,
    )
    # 32: noSuchObject, what slapd answers when the entry itself may not be read.
    assert done.returncode in (0, 32), done.stderr
    attributes: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        name, sep, value = line.partition(":")
        if not sep or name == "dn":
            continue
        if value.startswith(":"):
            value = base64.b64decode(value[1:].strip()).decode()
        attributes.setdefault(name, []).append(value.strip())
    return attributes


def whoami(slapd: SlapdServer, dn: str, password: str) -> bool:
    done = slapd.ldap("ldapwhoami", bind_dn=dn, password=password, check=False)
    if done.returncode == 0:
        assert done.stdout.strip() == f"dn:{dn}", done.stdout
        return True
    # invalidCredentials; unwillingToPerform for an empty password (unauthenticated bind).
    assert done.returncode in (49, 53), done.stderr
    return False


def add_student(slapd: SlapdServer, uid: str, password: str) -> str:
    slapd.ldap("ldapadd", input=student_ldif(slapd, uid, password_hash=ent_argon2(password)))
    return f"uid={uid},{slapd.people_dn}"


def test_entry_with_every_attribute_of_issue_15_is_accepted(slapd: SlapdServer) -> None:
    slapd.ldap("ldapadd", input=student_ldif(slapd, "21900001"))
    entry = read_entry(slapd, "21900001", bind_dn=slapd.bind_dn, password=slapd.bind_password)
    assert set(entry["objectClass"]) == {
        "inetOrgPerson",
        "eduPerson",
        "supannPerson",
        "schacPersonalCharacteristics",
        "schacLinkageIdentifiers",
    }
    for name in (
        "uid",
        "cn",
        "sn",
        "givenName",
        "displayName",
        "mail",
        "supannMailPerso",
        "supannEtuId",
        "supannCodeINE",
        "eduPersonPrimaryAffiliation",
        "eduPersonPrincipalName",
        "schacDateOfBirth",
        "schacPersonalUniqueCode",
        "supannEtuInscription",
        "supannRessourceEtatDate",
        "mailForwardingAddress",
    ):
        assert len(entry[name]) == 1, name
    assert sorted(entry["eduPersonAffiliation"]) == ["member", "student"]
    assert entry["supannRessourceEtatDate"] == ["{COMPTE}A:SupannActif::20270831"]


def test_schema_refuses_what_it_does_not_define(slapd: SlapdServer) -> None:
    """The schema check is real: an unknown attribute or a malformed date is refused."""
    ldif = student_ldif(slapd, "21900002") + "supannCodeIne2: x\n"
    done = slapd.ldap("ldapadd", input=ldif, check=False)
    assert done.returncode != 0
    assert "supannCodeIne2" in done.stderr
    bad_date = student_ldif(slapd, "21900002").replace(
        "schacDateOfBirth: 20050317", "schacDateOfBirth: 17/03/2005"
    )
    done = slapd.ldap("ldapadd", input=bad_date, check=False)
    assert done.returncode == 21, done.stderr  # invalidAttributeSyntax


def test_bind_checks_the_argon2id_hash_ent_stores(slapd: SlapdServer) -> None:
    dn = add_student(slapd, "21900003", "Correct horse 7 battery")
    assert whoami(slapd, dn, "Correct horse 7 battery")
    assert not whoami(slapd, dn, "Correct horse 7 batterY")
    assert not whoami(slapd, dn, "")
    # A password change in ENT: the new hash replaces the old one.
    change = f"dn: {dn}\nchangetype: modify\nreplace: userPassword\n"
    change += f"userPassword: {{ARGON2}}{ent_argon2('Another 8 password')}\n"
    slapd.ldap("ldapmodify", input=change)
    assert whoami(slapd, dn, "Another 8 password")
    assert not whoami(slapd, dn, "Correct horse 7 battery")
    # Locking the account removes userPassword: no bind any more.
    slapd.ldap("ldapmodify", input=f"dn: {dn}\nchangetype: modify\ndelete: userPassword\n")
    assert not whoami(slapd, dn, "Another 8 password")


def test_student_reads_own_entry_including_private_attributes(slapd: SlapdServer) -> None:
    dn = add_student(slapd, "21900004", "Student 4 password!")
    entry = read_entry(slapd, "21900004", bind_dn=dn, password="Student 4 password!")
    assert entry["supannCodeINE"] == ["1234567890A"]
    assert entry["schacDateOfBirth"] == ["20050317"]
    assert entry["supannMailPerso"] == ["lucie.martin.21900004@example.org"]
    assert entry["uid"] == ["21900004"]
    assert "userPassword" not in entry  # auth only, even for its owner


def test_other_students_and_anonymous_never_read_private_attributes(
    slapd: SlapdServer,
) -> None:
    add_student(slapd, "21900005", "Student 5 password!")
    other = add_student(slapd, "21900006", "Student 6 password!")
    seen_by_other = read_entry(slapd, "21900005", bind_dn=other, password="Student 6 password!")
    assert seen_by_other["uid"] == ["21900005"]  # the public part: the address book
    assert seen_by_other["mail"] == ["21900005@etudiant.univ-perp.fr"]
    for name in PRIVATE:
        assert name not in seen_by_other, name
    # A search on a private attribute does not reveal it either.
    found = slapd.ldap(
        "ldapsearch",
        "-LLL",
        "-b",
        slapd.people_dn,
        "(supannCodeINE=1234567890A)",
        "1.1",
        bind_dn=other,
        password="Student 6 password!",
    )
    assert "uid=21900005" not in found.stdout
    assert "uid=21900006" in found.stdout  # their own entry, which they may read
    # Anonymous: nothing at all.
    assert read_entry(slapd, "21900005", bind_dn=None) == {}
    anonymous = slapd.ldap(
        "ldapsearch", "-LLL", "-b", slapd.people_dn, "(uid=*)", bind_dn=None, check=False
    )
    # noSuchObject: slapd does not even disclose that the branch exists.
    assert anonymous.returncode == 32, anonymous.stderr
    assert anonymous.stdout.strip() == ""


def test_ent_writes_and_a_student_cannot_modify_their_own_entry(slapd: SlapdServer) -> None:
    dn = add_student(slapd, "21900007", "Student 7 password!")
    change = f"dn: {dn}\nchangetype: modify\nreplace: supannCodeINE\nsupannCodeINE: 0000000000X\n"
    refused = slapd.ldap(
        "ldapmodify", input=change, bind_dn=dn, password="Student 7 password!", check=False
    )
    assert refused.returncode == 50, refused.stderr  # insufficientAccessRights
    mine = f"dn: {dn}\nchangetype: modify\nreplace: mail\nmail: me@example.org\n"
    refused = slapd.ldap(
        "ldapmodify", input=mine, bind_dn=dn, password="Student 7 password!", check=False
    )
    assert refused.returncode == 50, refused.stderr
    # ENT's bind DN writes.
    slapd.ldap("ldapmodify", input=change.replace("0000000000X", "1234567890B"))
    entry = read_entry(slapd, "21900007", bind_dn=dn, password="Student 7 password!")
    assert entry["supannCodeINE"] == ["1234567890B"]
    assert entry["mail"] == ["21900007@etudiant.univ-perp.fr"]
    # Anonymous writes nothing.
    refused = slapd.ldap("ldapmodify", input=mine, bind_dn=None, check=False)
    assert refused.returncode == 8, refused.stderr  # strongerAuthRequired


def test_stop_and_start_keep_the_data(slapd: SlapdServer) -> None:
    dn = add_student(slapd, "21900008", "Student 8 password!")
    url = slapd.url
    slapd.stop()
    down = slapd.ldap("ldapwhoami", check=False)
    assert down.returncode == 255, down.stderr  # cannot contact the server
    slapd.start()
    assert slapd.url == url
    assert whoami(slapd, dn, "Student 8 password!")
    entry = read_entry(slapd, "21900008", bind_dn=slapd.bind_dn, password=slapd.bind_password)
    assert entry["supannCodeINE"] == ["1234567890A"]
    # The base entries are still there, not added twice.
    base = slapd.ldap("ldapsearch", "-LLL", "-b", slapd.people_dn, "-s", "base", "1.1")
    assert base.stdout.strip() == f"dn: {slapd.people_dn}"


@pytest.mark.parametrize("scope", ["base", "one"])
def test_ent_reads_the_base_entries(slapd: SlapdServer, scope: str) -> None:
    done = slapd.ldap("ldapsearch", "-LLL", "-s", scope, "-b", slapd.base_dn, "1.1")
    expected = slapd.base_dn if scope == "base" else slapd.people_dn
    assert done.stdout.strip() == f"dn: {expected}"
