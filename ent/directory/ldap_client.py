"""ENT's connection to the university's LDAP directory, and the writes it makes there.

The library is python-ldap (OpenLDAP's own libldap under a thin C binding): maintained, used by
django-auth-ldap and by most Python LDAP tooling, and fast enough to write 100,000 entries in
a few seconds because it lets a caller send many operations before reading their results
(``write_many``). Its C build needs Debian's ``libldap2-dev`` and ``libsasl2-dev``, which
``scripts/build-deps`` installs before ``pip`` (``make run`` and ``make test`` call it). The
pure-Python ldap3 was the other candidate; it has had no release since 2021.

Every write is confined to ``ENT_LDAP_PEOPLE_DN``: ``_check_dn`` refuses a DN whose parent is
not that branch, so a bug or a stale row can never touch the rest of the directory.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import ldap
import ldap.dn
import ldap.modlist
from django.conf import settings
from ldap.controls import SimplePagedResultsControl

from .ldap_entry import MANAGED_ATTRIBUTES, OBJECT_CLASSES, Entry

logger = logging.getLogger(__name__)

# Seconds: to open the connection, and for any one operation's answer.
CONNECT_TIMEOUT = 5.0
OPERATION_TIMEOUT = 30.0
PAGE_SIZE = 1000
# The managed attributes that a write replaces (objectClass is only ever added to: another
# system may have given the entry classes of its own, e.g. posixAccount).
_REPLACED = tuple(a for a in MANAGED_ATTRIBUTES if a != "objectClass")


class DirectoryUnavailable(Exception):
    """The directory cannot be reached or refuses ENT's bind: every change waits."""


class EntryRefused(Exception):
    """The directory refused the write of one entry (the message says why); others go on."""


@dataclass(frozen=True)
class Outcome:
    """What became of one entry's write: ``None`` if it is written, else the refusal."""

    dn: str
    error: str | None = None


def _check_dn(dn: str) -> None:
    """Refuse any DN that is not a direct child of ENT_LDAP_PEOPLE_DN."""
    try:
        parts = ldap.dn.str2dn(dn)
        branch = ldap.dn.str2dn(settings.LDAP_PEOPLE_DN)
    except ldap.DECODING_ERROR as exc:
        raise EntryRefused(f"invalid DN {dn!r}") from exc
    lower = [[(a.lower(), v.lower(), f) for a, v, f in rdn] for rdn in parts[1:]]
    if len(parts) != len(branch) + 1 or lower != [
        [(a.lower(), v.lower(), f) for a, v, f in rdn] for rdn in branch
    ]:
        raise EntryRefused(f"{dn!r} is outside {settings.LDAP_PEOPLE_DN!r}")


def _unavailable(exc: BaseException) -> bool:
    """Errors of the connection rather than of an entry."""
    return isinstance(
        exc,
        ldap.SERVER_DOWN
        | ldap.TIMEOUT
        | ldap.CONNECT_ERROR
        | ldap.UNAVAILABLE
        | ldap.BUSY
        | ldap.INVALID_CREDENTIALS
        | ldap.STRONG_AUTH_REQUIRED
        | ldap.CONFIDENTIALITY_REQUIRED,
    )


def _message(exc: BaseException) -> str:
    """A short text of a python-ldap error (its ``desc`` and ``info``)."""
    if exc.args and isinstance(exc.args[0], dict):
        detail = exc.args[0]
        return ": ".join(str(detail[k]) for k in ("desc", "info") if detail.get(k))
    return str(exc) or type(exc).__name__


def connect() -> Any:
    """A bound connection to ENT_LDAP_URL, or ``DirectoryUnavailable``.

    ``ldaps://`` and StartTLS check the server's certificate (libldap's default, ``demand``).
    With ``ldapi://`` and no bind DN, ENT binds by SASL EXTERNAL (its Unix user).
    """
    try:
        conn = ldap.initialize(settings.LDAP_URL, bytes_mode=False)
        conn.set_option(ldap.OPT_PROTOCOL_VERSION, ldap.VERSION3)
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, CONNECT_TIMEOUT)
        conn.set_option(ldap.OPT_TIMEOUT, OPERATION_TIMEOUT)
        if settings.LDAP_STARTTLS:
            conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
            conn.start_tls_s()
        if settings.LDAP_URL.startswith("ldapi:") and not settings.LDAP_BIND_DN:
            conn.sasl_external_bind_s()
        else:
            conn.simple_bind_s(settings.LDAP_BIND_DN, settings.LDAP_BIND_PASSWORD)
    except ldap.LDAPError as exc:
        raise DirectoryUnavailable(_message(exc)) from exc
    return conn


def close(conn: Any) -> None:
    """Unbind, ignoring a connection that is already gone."""
    with contextlib.suppress(ldap.LDAPError):
        conn.unbind_s()


def _encode(values: Sequence[str]) -> list[bytes]:
    return [v.encode("utf-8") for v in values]


def _replace_list(entry: Entry) -> list[tuple[int, str, list[bytes] | None]]:
    """Every managed attribute but objectClass replaced: with ENT's values, or with none
    (RFC 4511 4.6: a replace without values removes the attribute, and is a no-op when it is
    absent), so one modify makes the entry right whatever it held."""
    return [
        (
            ldap.MOD_REPLACE,
            name,
            _encode(entry.attributes[name]) if name in entry.attributes else None,
        )
        for name in _REPLACED
    ]


def _add_list(entry: Entry) -> list[tuple[str, list[bytes]]]:
    return [(name, _encode(values)) for name, values in entry.attributes.items()]


def _object_classes(conn: Any, dn: str) -> list[str]:
    result = conn.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", ["objectClass"])
    return [v.decode() for v in result[0][1].get("objectClass", [])] if result else []


def _with_classes(conn: Any, entry: Entry) -> list[tuple[int, str, list[bytes] | None]]:
    """The replace list, plus the object classes the existing entry lacks."""
    have = {c.lower() for c in _object_classes(conn, entry.dn)}
    missing = [c for c in OBJECT_CLASSES if c.lower() not in have]
    mods: list[tuple[int, str, list[bytes] | None]] = []
    if missing:
        mods.append((ldap.MOD_ADD, "objectClass", _encode(missing)))
    return mods + _replace_list(entry)


def _retry_one(conn: Any, entry: Entry, exc: BaseException) -> None:
    """The slow path of one entry whose pipelined write failed: add it when it does not exist,
    replace it when it does, add our object classes when it lacks them. Raises what the
    directory answers."""
    if isinstance(exc, ldap.NO_SUCH_OBJECT):
        try:
            conn.add_s(entry.dn, _add_list(entry))
            return
        except ldap.ALREADY_EXISTS:  # created meanwhile by another writer: modify it
            pass
    conn.modify_s(entry.dn, _with_classes(conn, entry))


def _send(conn: Any, entry: Entry, add: bool) -> int:
    if add:
        return int(conn.add_ext(entry.dn, _add_list(entry)))
    return int(conn.modify_ext(entry.dn, _replace_list(entry)))


def write_many(
    conn: Any, entries: Sequence[Entry], *, new: Sequence[bool] | None = None
) -> list[Outcome]:
    """Make each entry hold exactly ENT's values of the managed attributes, creating the
    entries that are missing; pipelined (every operation sent, then every answer read).

    ``new[i]`` says entry ``i`` was never written (an add is tried first, a modify otherwise);
    a wrong guess costs one more round, pipelined too. Raises ``DirectoryUnavailable`` if the
    connection fails (nothing may be assumed written); an entry the directory refuses gets an
    ``Outcome`` with the refusal, the others go on.
    """
    adds = list(new) if new is not None else [False] * len(entries)
    errors: dict[int, str | None] = {}
    try:
        todo = []
        for i, entry in enumerate(entries):
            try:
                _check_dn(entry.dn)
            except EntryRefused as exc:
                errors[i] = str(exc)
                continue
            todo.append(i)
        for attempt in range(2):
            sent = [(i, _send(conn, entries[i], adds[i])) for i in todo]
            todo = []
            for i, msgid in sent:
                try:
                    conn.result3(msgid)
                    errors[i] = None
                except (ldap.NO_SUCH_OBJECT, ldap.ALREADY_EXISTS) as exc:
                    if attempt == 0:  # the guess was wrong: the other operation, pipelined
                        adds[i] = isinstance(exc, ldap.NO_SUCH_OBJECT)
                        todo.append(i)
                    else:
                        errors[i] = _slow(conn, entries[i], exc)
                except ldap.LDAPError as exc:
                    if _unavailable(exc):
                        raise
                    errors[i] = _slow(conn, entries[i], exc)
    except ldap.LDAPError as exc:
        raise DirectoryUnavailable(_message(exc)) from exc
    return [Outcome(entry.dn, errors.get(i)) for i, entry in enumerate(entries)]


def _slow(conn: Any, entry: Entry, exc: BaseException) -> str | None:
    """``_retry_one``, its refusal as text (None: written)."""
    try:
        _retry_one(conn, entry, exc)
    except ldap.LDAPError as again:
        if _unavailable(again):
            raise
        return _message(again)
    return None


def delete(conn: Any, dn: str) -> None:
    """Remove an entry of the branch (gone already: nothing to do)."""
    _check_dn(dn)
    try:
        conn.delete_s(dn)
    except ldap.NO_SUCH_OBJECT:
        return
    except ldap.LDAPError as exc:
        if _unavailable(exc):
            raise DirectoryUnavailable(_message(exc)) from exc
        raise EntryRefused(_message(exc)) from exc


def rename(conn: Any, old_dn: str, new_dn: str) -> None:
    """Move an entry to its new DN (ENT_LDAP_UID changed); when the old one is gone or the new
    one exists already, the old one is simply removed."""
    _check_dn(old_dn)
    _check_dn(new_dn)
    new_rdn = ldap.dn.dn2str(ldap.dn.str2dn(new_dn)[:1])
    try:
        conn.rename_s(old_dn, new_rdn, delold=1)
    except ldap.NO_SUCH_OBJECT:
        return
    except ldap.ALREADY_EXISTS:
        delete(conn, old_dn)
    except ldap.LDAPError as exc:
        if _unavailable(exc):
            raise DirectoryUnavailable(_message(exc)) from exc
        raise EntryRefused(_message(exc)) from exc


def branch_entries(conn: Any) -> Iterator[tuple[str, dict[str, list[str]]]]:
    """Every entry directly under ENT_LDAP_PEOPLE_DN with its managed attributes, by pages
    (RFC 2696), so a directory's size limit never truncates the list."""
    control = SimplePagedResultsControl(True, size=PAGE_SIZE, cookie="")
    try:
        while True:
            msgid = conn.search_ext(
                settings.LDAP_PEOPLE_DN,
                ldap.SCOPE_ONELEVEL,
                "(objectClass=*)",
                list(MANAGED_ATTRIBUTES),
                serverctrls=[control],
            )
            _type, data, _msgid, controls = conn.result3(msgid)
            for dn, attrs in data:
                if dn is None:  # a referral
                    continue
                yield dn, {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in attrs.items()}
            cookie = next(
                (
                    c.cookie
                    for c in controls
                    if c.controlType == SimplePagedResultsControl.controlType
                ),
                b"",
            )
            if not cookie:
                return
            control.cookie = cookie
    except ldap.NO_SUCH_OBJECT as exc:
        raise DirectoryUnavailable(f"{settings.LDAP_PEOPLE_DN} does not exist") from exc
    except ldap.LDAPError as exc:
        raise DirectoryUnavailable(_message(exc)) from exc
