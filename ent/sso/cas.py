"""CAS 3.0 server: tickets, validation, proxying and single logout (Apereo CAS Protocol 3.0).

The views (``ent.sso.cas_views``) parse the request and call one function of this module:

- ``service_for_url``: the registry entry of a ``service`` URL, or None (the registry is never
  open: an unknown service gets no ticket and no redirect).
- ``cas_login``: every protocol decision of ``/cas/login`` (renew, gateway, warn, a password
  just typed, unknown service), as a value the view carries out (``SignIn``, ``Redirect``,
  ``Warn``, ``IssueTicket`` or ``Refuse``).
- ``service_ticket_issue``: a ticket ``ST-…`` for a signed-in student going to a service.
- ``ticket_validate``: ``/validate``, ``/serviceValidate``, ``/proxyValidate`` and their
  ``/p3/`` twins. One conditional UPDATE consumes the ticket whatever the outcome, so a ticket
  serves one validation attempt and two concurrent validations cannot both succeed.
- ``proxy_ticket_issue``: ``/proxy``.
- ``render_xml``/``render_json``: the spec's response documents; every value goes through
  ``xml.sax.saxutils.escape`` (or ``json.dumps``), so a name with ``<``, ``&`` or quotes
  cannot break them.
- single logout: a receiver of ``user_logged_out`` deletes the session's tickets and POSTs the
  SAML ``LogoutRequest`` to every service the session signed into, in background threads, so a
  slow or broken service never holds up the student's logout.

Validation reads its rows with hand-written SQL and builds no model instance, but asks the
models' own rules of the columns it read (``account_state_is_active``, ``pattern_allows``,
``attributes_released``): no second copy of them here.

Tickets are stored as SHA-256 hashes (``CasTicket``); the plaintext exists only in the redirect
to the service and, for single logout, in the student's own session.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
import secrets
import string
import threading
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit
from xml.sax.saxutils import escape, quoteattr

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import connection, transaction
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ent.accounts.models import Account, account_state_is_active
from ent.accounts.sessions import sessions_ended
from ent.core import clock, metrics
from ent.core import session_keys as keys
from ent.core.audit import Kind, audit_record
from ent.directory.models import Student

from .attributes import attributes_released, student_attributes
from .models import Attribute, CasTicket, Service, pattern_allows

logger = logging.getLogger(__name__)

CAS_NS = "http://www.yale.edu/tp/cas"
SAMLP_NS = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
# Clients such as phpCAS look for the literal "samlp:" prefix, not only the namespace:
# register it so ElementTree writes it and not ns0 (the CAS responses are written with "cas:").
ET.register_namespace("samlp", SAMLP_NS)
ET.register_namespace("saml", SAML_NS)

# Spec 3.7: tickets use only A-Z, a-z, 0-9 and "-". 40 random characters ≈ 238 bits.
_TICKET_ALPHABET = string.ascii_letters + string.digits
_TICKET_RANDOM_LENGTH = 40
_TICKET_RE = re.compile(r"(ST|PT|PGT)-[A-Za-z0-9]{32,250}")
_MAX_URL_LENGTH = 2000
_MAX_SLO_ENTRIES = 100
# XML 1.0 cannot carry most control characters, even escaped: drop them from values.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class ErrorCode(StrEnum):
    """Error codes of the CAS 3.0 specification (sections 2.5.3 and 2.7.3)."""

    INVALID_REQUEST = "INVALID_REQUEST"
    INVALID_TICKET_SPEC = "INVALID_TICKET_SPEC"
    UNAUTHORIZED_SERVICE_PROXY = "UNAUTHORIZED_SERVICE_PROXY"
    INVALID_PROXY_CALLBACK = "INVALID_PROXY_CALLBACK"
    INVALID_TICKET = "INVALID_TICKET"
    INVALID_SERVICE = "INVALID_SERVICE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    UNAUTHORIZED_SERVICE = "UNAUTHORIZED_SERVICE"


@dataclass
class Validation:
    """Outcome of a ticket validation: success (``user`` set) or an error code."""

    user: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)
    pgt_iou: str = ""
    proxies: list[str] = field(default_factory=list)
    code: ErrorCode | None = None
    description: str = ""

    @property
    def ok(self) -> bool:
        """Whether the ticket was accepted."""
        return self.code is None


@dataclass
class ProxyResult:
    """Outcome of ``/proxy``: a proxy ticket or an error code."""

    ticket: str = ""
    code: ErrorCode | None = None
    description: str = ""


def new_ticket(prefix: str) -> str:
    """A fresh ticket ``PREFIX-`` followed by 40 random letters and digits."""
    return f"{prefix}-" + "".join(
        secrets.choice(_TICKET_ALPHABET) for _ in range(_TICKET_RANDOM_LENGTH)
    )


def ticket_hash(ticket: str) -> str:
    """What the database keeps of a ticket."""
    return hashlib.sha256(ticket.encode()).hexdigest()


def _is_http_url(url: str) -> bool:
    # No whitespace or control character (NUL cannot even be stored by PostgreSQL), and ASCII
    # only: a URI is ASCII, and a non-ASCII host is another (IDNA) domain than its look-alike.
    if (
        not url
        or len(url) > _MAX_URL_LENGTH
        or not url.isascii()
        or any(c <= " " or c == "\x7f" for c in url)
    ):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:  # "https://[::1/": an unclosed IPv6 bracket
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def service_for_url(url: str) -> Service | None:
    """The enabled CAS registry entry whose pattern matches the whole ``url``, if any."""
    if not _is_http_url(url):
        return None
    for service in Service.objects.filter(enabled=True, protocol=Service.Protocol.CAS):
        if service.matches_cas_service(url):
            return service
    return None


def printable(text: str, limit: int = 200) -> str:
    """``text`` without control characters, cut to ``limit``: fit for the audit log (PostgreSQL
    refuses NUL in a JSON column)."""
    return "".join(c for c in text[: limit * 2] if c >= " " and c != "\x7f")[:limit]


def url_with_query(url: str, params: dict[str, str], *, keep_fragment: bool = True) -> str:
    """``url`` with ``params`` appended to its query (its own parameters kept)."""
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, fragment))


def url_with_ticket(service_url: str, ticket: str) -> str:
    """The service URL with ``ticket=…`` appended to its query (its own parameters kept)."""
    return url_with_query(service_url, {"ticket": ticket})


# --- The /cas/login decisions (spec 2.1 and 2.2) ----------------------------------------------

# How long after typing the password /cas/login still counts the ticket as "primary" (renew).
FRESH_LOGIN_SECONDS = 300


def flag(value: str | None) -> bool:
    """A CAS boolean parameter: set unless absent, empty or "false"."""
    return value is not None and value.strip().lower() not in ("", "false", "0")


@dataclass(frozen=True, slots=True)
class LoginParams:
    """The parameters of a ``/cas/login`` request."""

    service_url: str = ""
    renew: bool = False
    gateway: bool = False
    warn: bool = False
    method: str = "GET"

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> LoginParams:
        """Read them from the request's query string."""
        return cls(
            service_url=query.get("service", ""),
            renew=flag(query.get("renew")),
            gateway=flag(query.get("gateway")),
            warn=flag(query.get("warn")),
            method=query.get("method", "GET").upper(),
        )


class Refusal(StrEnum):
    """Why ``/cas/login`` answers with a message page."""

    UNKNOWN_SERVICE = "unknown service"
    BAD_METHOD = "bad method"


@dataclass(frozen=True, slots=True)
class SignIn:
    """Send the browser to the ENT's ``/login``, and back here (``renew``: ask the password even
    of a signed-in student)."""

    renew: bool


@dataclass(frozen=True, slots=True)
class Redirect:
    """Send the browser to ``url`` (the portal, or the service without a ticket)."""

    url: str


@dataclass(frozen=True, slots=True)
class Warn:
    """Ask the student before signing in to the service (spec 2.2.1, ``warn``)."""

    service: Service


@dataclass(frozen=True, slots=True)
class IssueTicket:
    """Issue a service ticket and send it to ``service_url`` (by a form if ``post``)."""

    service: Service
    service_url: str
    from_new_login: bool
    post: bool


@dataclass(frozen=True, slots=True)
class Refuse:
    """A message page, no ticket and no redirect."""

    reason: Refusal


LoginDecision = SignIn | Redirect | Warn | IssueTicket | Refuse


def cas_login(
    params: LoginParams,
    *,
    signed_in: bool,
    service: Service | None,
    fresh_login: Callable[[], bool],
) -> LoginDecision:
    """Every protocol decision of ``/cas/login``; the view only carries it out.

    ``signed_in``: the browser has a student's session; ``service``: the registry entry of
    ``params.service_url`` (None if unknown); ``fresh_login``: whether the password was just
    typed for this very request, asked (and forgotten) only when the answer matters.
    """
    if not params.service_url:
        if signed_in and not params.renew:
            return Redirect(reverse("portal:home"))  # spec 2.1.5: already signed in
        return SignIn(renew=False)
    if service is None:
        return Refuse(Refusal.UNKNOWN_SERVICE)
    if params.method not in ("GET", "POST"):
        return Refuse(Refusal.BAD_METHOD)
    fresh = fresh_login() if signed_in else False
    if signed_in and (fresh or not params.renew):
        if params.warn and not fresh:
            # Spec 2.2.1: with "warn", single sign-on must not be transparent: ask first.
            return Warn(service)
        return IssueTicket(
            service=service,
            service_url=params.service_url,
            from_new_login=fresh,
            post=params.method == "POST",
        )
    if params.gateway and not params.renew and not signed_in:  # spec 2.1.1: renew wins
        return Redirect(params.service_url)  # back without a ticket
    return SignIn(renew=params.renew)


def mark_fresh_login(request: HttpRequest, next_url: str) -> None:
    """Called by ``/login`` after a password check when it returns to ``/cas/login``."""
    if urlsplit(next_url).path == reverse("cas:login"):
        request.session[keys.CAS_FRESH_LOGIN] = {"next": next_url, "at": clock.now().timestamp()}


def fresh_login_pop(request: HttpRequest, service_url: str) -> bool:
    """Whether the password was just typed for this very /cas/login request (then forgotten)."""
    fresh = request.session.pop(keys.CAS_FRESH_LOGIN, None)
    if not isinstance(fresh, dict):
        return False
    try:
        age = clock.now().timestamp() - float(fresh["at"])
        query = parse_qs(urlsplit(str(fresh["next"])).query)
    except (KeyError, TypeError, ValueError):
        return False
    return 0 <= age <= FRESH_LOGIN_SECONDS and query.get("service") == [service_url]


def unknown_service_report(*, account: Account | None, service_url: str, ip: str | None) -> None:
    """Record a ``/cas/login`` for an unregistered service: audited for a signed-in student,
    a log line only for anyone else (anyone can send these: the audit table could be flooded).
    """
    if account is not None:
        audit_record(
            kind=Kind.CAS_SERVICE_UNKNOWN,
            student=getattr(account, "student", None),
            actor=account,
            ip=ip,
            service_url=printable(service_url),
        )
    else:
        logger.warning("CAS login for an unknown service from %s: %s", ip, printable(service_url))


# --- Issuing service tickets (/cas/login) ---------------------------------------------------


def sso_id(request: HttpRequest) -> str:
    """The id of the browser's sign-on session, created on first use.

    Django's session key changes at every login; this id lives in the session data, so the
    tickets issued before a second password entry (``renew``) still end with the session.
    """
    value = request.session.get(keys.SSO_ID)
    if not isinstance(value, str) or not value:
        value = secrets.token_hex(16)
        request.session[keys.SSO_ID] = value
    return value


def authenticated_at(request: HttpRequest) -> datetime:
    """When the student last typed the password in this session (now if unknown)."""
    raw = request.session.get(keys.SSO_AUTHENTICATED_AT)
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            pass
    return clock.now()


def service_ticket_issue(
    *,
    account: Account,
    service: Service,
    service_url: str,
    session_id: str,
    from_new_login: bool,
    authenticated: datetime,
    ip: str | None,
) -> str:
    """Issue a service ticket for ``service_url``; the caller redirects the browser with it."""
    now = clock.now()
    ticket = new_ticket("ST")
    with transaction.atomic():
        # Housekeeping: expired tickets are useless; dropping them here keeps the table small
        # without a scheduled job (the expiry index makes this cheap).
        CasTicket.objects.filter(expires_at__lt=now - timedelta(hours=1)).delete()
        CasTicket.objects.create(
            kind=CasTicket.Kind.SERVICE,
            ticket_hash=ticket_hash(ticket),
            account=account,
            service=service,
            service_url=service_url,
            session_key=session_id,
            from_new_login=from_new_login,
            authenticated_at=authenticated,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.CAS_TICKET_SECONDS),
        )
        audit_record(
            kind=Kind.CAS_TICKET_ISSUED,
            student=account.student,
            actor=account,
            ip=ip,
            service=service.slug,
            new_login=from_new_login,
        )
    return ticket


def remember_for_logout(request: HttpRequest, *, ticket: str, service: Service, url: str) -> None:
    """Keep (ticket, service) in the session: single logout names the ticket (SessionIndex)."""
    entries = list(request.session.get(keys.CAS_SERVICES) or [])
    entries.append([ticket, service.pk, url])
    request.session[keys.CAS_SERVICES] = entries[-_MAX_SLO_ENTRIES:]


# --- Validating tickets ------------------------------------------------------------------------


def _fail(code: ErrorCode, description: str) -> Validation:
    return Validation(code=code, description=description)


def _shown(ticket: str) -> str:
    # Echo the ticket in the message only when it looks like one of ours.
    return ticket if _TICKET_RE.fullmatch(ticket) else "(invalid)"


def _audit_refusal(row: _TicketView, reason: str, ip: str | None) -> None:
    audit_record(
        kind=Kind.CAS_VALIDATION_FAILED,
        student=row.account.student(),
        ip=ip,
        service=row.service.slug,
        reason=reason,
    )


# The validation endpoints are the hot path of single sign-on (every service login calls one):
# hand-written statements instead of ORM querysets, whose compilation cost several times the
# database work here. Table names come from the models' metadata.


_CONSUME_SQL = (
    "UPDATE {ticket} SET consumed_at = %s"
    " WHERE ticket_hash = %s AND kind IN (%s, %s) AND consumed_at IS NULL"
    " RETURNING id, CASE WHEN expires_at > %s THEN 1 ELSE 0 END"
)


def _consume(digest: str, now: datetime) -> tuple[int, bool] | None:
    """Mark the ticket consumed if it still can be: (id, not expired), or None.

    One conditional UPDATE: of two concurrent validations, exactly one changes the row.
    """
    sql = _statements()[0]
    adapted = connection.ops.adapt_datetimefield_value(now)
    kinds = [CasTicket.Kind.SERVICE.value, CasTicket.Kind.PROXY.value]
    with connection.cursor() as cursor:
        cursor.execute(sql, [adapted, digest, *kinds, adapted])
        found = cursor.fetchone()
    return None if found is None else (int(found[0]), bool(found[1]))


_COLUMNS = (
    "t.kind, t.service_url, t.session_key, t.from_new_login, t.authenticated_at,"
    " t.proxies, a.id, a.username, a.state, s.id, s.student_number, s.first_name,"
    " s.last_name, s.institutional_email, v.id, v.slug, v.enabled, v.protocol, v.attributes,"
    " v.cas_proxy_callback_pattern"
)
_LOAD_SQL = (
    "SELECT {columns} FROM {ticket} t"
    " JOIN {account} a ON a.id = t.account_id"
    " LEFT JOIN {student} s ON s.id = a.student_id"
    " JOIN {service} v ON v.id = t.service_id"
    " WHERE t.id = %s"
)
# PostgreSQL runs the consuming UPDATE and the SELECT as one statement (one round trip).
_CONSUME_AND_LOAD_SQL = (
    "WITH t AS (UPDATE {ticket} SET consumed_at = %s"
    " WHERE ticket_hash = %s AND kind IN (%s, %s) AND consumed_at IS NULL RETURNING *)"
    " SELECT t.id, t.expires_at > %s, {columns}{extra} FROM t"
    " JOIN {account} a ON a.id = t.account_id"
    " LEFT JOIN {student} s ON s.id = a.student_id"
    " JOIN {service} v ON v.id = t.service_id"
)
# The same statement, committed asynchronously (``synchronous_commit`` off for its own
# transaction only): PostgreSQL does not wait for the WAL to reach the disk before answering,
# which was the largest part of a validation's time. What this gives up, and why it is safe:
# - visibility and locking are unchanged: the row is locked by the UPDATE and the new value is
#   visible to every other session as soon as the statement ends, so of two concurrent
#   validations (on any instance) exactly one still succeeds;
# - durability of the "consumed" mark alone: if the database server crashes within
#   3 × wal_writer_delay (0.6 s by default) of the validation, the mark may be lost on
#   recovery, and the ticket would validate again until it expires (ENT_CAS_TICKET_SECONDS)
#   for whoever holds it after its legitimate use. The ticket itself was written with a normal
#   commit. A crash of the server inside that window, then a replay within the ticket's
#   lifetime, is far beyond what CAS servers usually guarantee (Apereo CAS keeps tickets in
#   memory or in caches that are not written to disk at every change).
# The setting is local to the statement's transaction (set_config's third argument), so
# nothing else on the connection changes. It is ent.core.fastsql.commit_without_flush inlined
# into the statement itself, which spares that function's extra round trip.
_ASYNC_COMMIT = ", set_config('synchronous_commit', 'off', true)"


# The statements with their table names, by database vendor (built once: formatting them at
# every validation showed in profiles).
_SQL_BY_VENDOR: dict[str, tuple[str, str, str, str]] = {}


def _statements() -> tuple[str, str, str, str]:
    """(consume, load, consume-and-load, the same committed asynchronously)."""
    found = _SQL_BY_VENDOR.get(connection.vendor)
    if found is None:
        names = {
            "ticket": CasTicket._meta.db_table,
            "account": Account._meta.db_table,
            "student": Student._meta.db_table,
            "service": Service._meta.db_table,
        }
        quoted = {"columns": _COLUMNS} | {k: connection.ops.quote_name(v) for k, v in names.items()}
        found = (
            _CONSUME_SQL.format(**quoted),
            _LOAD_SQL.format(**quoted),
            _CONSUME_AND_LOAD_SQL.format(**quoted, extra=""),
            _CONSUME_AND_LOAD_SQL.format(**quoted, extra=_ASYNC_COMMIT),
        )
        _SQL_BY_VENDOR[connection.vendor] = found
    return found


@dataclass(slots=True)
class _ServiceView:
    """The registry fields validation needs (a model instance costs more to build)."""

    id: int
    slug: str
    enabled: bool
    protocol: str
    attributes: list[str]
    cas_proxy_callback_pattern: str

    def allows_proxy_callback(self, url: str) -> bool:
        """``Service.allows_proxy_callback``: the same function on the same column."""
        return pattern_allows(self.cas_proxy_callback_pattern, url)


@dataclass(slots=True)
class _AccountView:
    """The account (and student) columns validation needs: model instances cost more to build
    than the statement that reads them. ``student()`` makes one for the audit log."""

    id: int
    username: str
    state: str
    student_id: int | None
    student_number: str
    first_name: str
    last_name: str
    institutional_email: str

    @property
    def is_active(self) -> bool:
        """``Account.is_active``: the same function on the same column."""
        return account_state_is_active(self.state)

    def attributes(self) -> dict[str, str]:
        """``attributes_all`` of the account."""
        if self.student_id is None:
            return {Attribute.UID: self.username}
        return student_attributes(
            student_number=self.student_number,
            institutional_email=self.institutional_email,
            first_name=self.first_name,
            last_name=self.last_name,
        )

    def student(self) -> Student | None:
        """The student, as a model instance (for a foreign key)."""
        if self.student_id is None:
            return None
        return Student(
            id=self.student_id,
            student_number=self.student_number,
            first_name=self.first_name,
            last_name=self.last_name,
            institutional_email=self.institutional_email,
        )


@dataclass(slots=True)
class _TicketView:
    """A consumed ticket as validation sees it."""

    id: int
    kind: str
    service_url: str
    session_key: str
    from_new_login: bool
    authenticated_at: datetime
    proxies: list[str]
    account: _AccountView
    service: _ServiceView


def _aware(value: Any) -> datetime:
    # SQLite hands back text (or a naive UTC datetime); PostgreSQL an aware datetime.
    if isinstance(value, str):
        parsed = parse_datetime(value)
        assert parsed is not None
        value = parsed
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value  # type: ignore[no-any-return]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _load(row_id: int) -> _TicketView | None:
    """The ticket with its account, student and service, in one SELECT."""
    with connection.cursor() as cursor:
        cursor.execute(_statements()[1], [row_id])
        found = cursor.fetchone()
    return None if found is None else _view(row_id, found)


def _consume_and_load(digest: str, now: datetime) -> tuple[bool, _TicketView | None] | None:
    """Consume the ticket and load it: (not expired, ticket), or None if it cannot be used.

    Two statements (``_consume``, ``_load``), or one on PostgreSQL.
    """
    if connection.vendor != "postgresql":
        consumed = _consume(digest, now)
        if consumed is None:
            return None
        row_id, alive = consumed
        return (alive, _load(row_id) if alive else None)
    kinds = [CasTicket.Kind.SERVICE.value, CasTicket.Kind.PROXY.value]
    # Alone in its transaction (autocommit, the case of every request): committed without
    # waiting for the disk (see _ASYNC_COMMIT). Inside a caller's transaction it must not
    # change how that whole transaction commits.
    sql = _statements()[3 if connection.get_autocommit() else 2]
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, digest, *kinds, now])
        found = cursor.fetchone()
    if found is None:  # unknown, used, or its account or service deleted meanwhile
        return None
    return (bool(found[1]), _view(int(found[0]), found[2:]))


def _view(row_id: int, found: Sequence[Any]) -> _TicketView:
    (kind, service_url, session_key, from_new_login, auth_at, proxies) = found[:6]
    (account_id, username, state, student_id, number, first, last, email) = found[6:14]
    (service_id, slug, enabled, protocol, attributes, callback_pattern) = found[14:20]
    return _TicketView(
        id=row_id,
        kind=kind,
        service_url=service_url,
        session_key=session_key,
        from_new_login=bool(from_new_login),
        authenticated_at=_aware(auth_at),
        proxies=_json(proxies) or [],
        account=_AccountView(
            id=account_id,
            username=username,
            state=state,
            student_id=student_id,
            student_number=number,
            first_name=first,
            last_name=last,
            institutional_email=email,
        ),
        service=_ServiceView(
            id=service_id,
            slug=slug,
            enabled=bool(enabled),
            protocol=protocol,
            attributes=_json(attributes) or [],
            cas_proxy_callback_pattern=callback_pattern,
        ),
    )


def ticket_validate(
    *,
    ticket: str,
    service_url: str,
    renew: bool,
    pgt_url: str,
    allow_proxy_tickets: bool,
    ip: str | None,
) -> Validation:
    """Validate a service (or proxy) ticket once; every outcome consumes it (see below)."""
    result = _ticket_validate(
        ticket=ticket,
        service_url=service_url,
        renew=renew,
        pgt_url=pgt_url,
        allow_proxy_tickets=allow_proxy_tickets,
        ip=ip,
    )
    code = result.code
    metrics.CAS_VALIDATIONS.labels(result="success" if code is None else str(code.value)).inc()
    return result


def _ticket_validate(
    *,
    ticket: str,
    service_url: str,
    renew: bool,
    pgt_url: str,
    allow_proxy_tickets: bool,
    ip: str | None,
) -> Validation:
    """Validate a service (or proxy) ticket once; every outcome consumes it.

    On the success path without ``pgtUrl``: the conditional UPDATE that consumes the ticket
    and one SELECT of ticket, account, student and service (one statement on PostgreSQL).
    """
    if not ticket or not service_url:
        return _fail(
            ErrorCode.INVALID_REQUEST, "'ticket' and 'service' parameters are both required"
        )
    if not _TICKET_RE.fullmatch(ticket) or ticket.startswith("PGT-"):
        return _fail(ErrorCode.INVALID_TICKET, f"Ticket {_shown(ticket)} not recognized")
    consumed = _consume_and_load(ticket_hash(ticket), clock.now())
    if consumed is None:
        return _fail(ErrorCode.INVALID_TICKET, f"Ticket {ticket} not recognized")
    alive, row = consumed
    if not alive:
        return _fail(ErrorCode.INVALID_TICKET, f"Ticket {ticket} expired")
    if row is None:  # deleted by a logout between the two statements
        return _fail(ErrorCode.INVALID_TICKET, f"Ticket {ticket} not recognized")
    if row.service_url != service_url:
        # Spec 2.5.3: the ticket is invalidated too (it already is: consumed above).
        _audit_refusal(row, "service mismatch", ip)
        return _fail(ErrorCode.INVALID_SERVICE, f"Ticket {ticket} was not issued for this service")
    if row.kind == CasTicket.Kind.PROXY and not allow_proxy_tickets:
        _audit_refusal(row, "proxy ticket on serviceValidate", ip)
        return _fail(
            ErrorCode.INVALID_TICKET_SPEC,
            f"Ticket {ticket} is a proxy ticket: validate it at /proxyValidate",
        )
    if renew and not row.from_new_login:
        _audit_refusal(row, "renew", ip)
        return _fail(
            ErrorCode.INVALID_TICKET,
            f"Ticket {ticket} did not come from an initial login and renew was requested",
        )
    account, service = row.account, row.service
    if not service.enabled or service.protocol != Service.Protocol.CAS:
        return _fail(ErrorCode.INVALID_SERVICE, "This service is no longer registered")
    if not account.is_active:
        return _fail(ErrorCode.INVALID_TICKET, f"Ticket {ticket} not recognized")
    everything = account.attributes()
    result = Validation(
        user=everything[Attribute.UID],
        attributes=_released_attributes(everything, service, row),
        proxies=list(row.proxies or []),
    )
    if pgt_url:
        error = _proxy_granting_ticket_issue(row=row, pgt_url=pgt_url, result=result, ip=ip)
        if error is not None:
            return error
    return result


def _released_attributes(
    everything: dict[str, str], service: _ServiceView, row: _TicketView
) -> dict[str, list[str]]:
    # The three authentication attributes of the spec's schema (Appendix A) are not personal
    # data; every personal attribute goes through the registry's list.
    released: dict[str, list[str]] = {
        "authenticationDate": [row.authenticated_at.isoformat()],
        "longTermAuthenticationRequestTokenUsed": ["false"],
        "isFromNewLogin": ["true" if row.from_new_login else "false"],
    }
    # What attributes_for releases, from the registry column read without a Service instance.
    for name, value in attributes_released(everything, service.attributes).items():
        released[name] = [value]
    return released


# --- Proxying ----------------------------------------------------------------------------------


def _callback_allowed_scheme(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    if parts.scheme != "http" or not settings.CAS_ALLOW_HTTP_LOOPBACK_CALLBACK:
        return False
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A callback that redirects gets no PGT: following it could send the PGT to a host the
    # registry never allowed.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _http_get_ok(url: str) -> bool:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=settings.CAS_HTTP_TIMEOUT_SECONDS) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        logger.info("CAS proxy callback failed: %s", type(exc).__name__)
        return False


def _proxy_granting_ticket_issue(
    *, row: _TicketView, pgt_url: str, result: Validation, ip: str | None
) -> Validation | None:
    """Spec 2.5.4: send a PGT and its IOU to ``pgt_url``; on 200, put the IOU in ``result``."""
    service = row.service
    if not service.cas_proxy_callback_pattern:
        return _fail(
            ErrorCode.UNAUTHORIZED_SERVICE_PROXY, "This service may not obtain proxy tickets"
        )
    if (
        not _is_http_url(pgt_url)
        or not _callback_allowed_scheme(pgt_url)
        or not service.allows_proxy_callback(pgt_url)
    ):
        return _fail(
            ErrorCode.INVALID_PROXY_CALLBACK,
            "The proxy callback URL is not an HTTPS address registered for this service",
        )
    pgt, iou = new_ticket("PGT"), new_ticket("PGTIOU")
    now = clock.now()
    # Stored before the callback: the proxy may use its PGT as soon as it receives it.
    pgt_row = CasTicket.objects.create(
        kind=CasTicket.Kind.PROXY_GRANTING,
        ticket_hash=ticket_hash(pgt),
        account_id=row.account.id,
        service_id=service.id,
        service_url=row.service_url,
        session_key=row.session_key,
        from_new_login=False,
        authenticated_at=row.authenticated_at,
        proxies=[pgt_url, *(row.proxies or [])],
        created_at=now,
        expires_at=now + timedelta(seconds=settings.SESSION_COOKIE_AGE),
    )
    callback = url_with_query(pgt_url, {"pgtId": pgt, "pgtIou": iou}, keep_fragment=False)
    if not _http_get_ok(callback):
        pgt_row.delete()
        return _fail(ErrorCode.INVALID_PROXY_CALLBACK, "The proxy callback did not answer 200 OK")
    audit_record(
        kind=Kind.CAS_PROXY_GRANTED,
        student=row.account.student(),
        ip=ip,
        service=service.slug,
        callback=printable(pgt_url),
    )
    result.pgt_iou = iou
    return None


def proxy_ticket_issue(*, pgt: str, target_service: str, ip: str | None) -> ProxyResult:
    """``/proxy``: a proxy ticket for ``target_service`` from a proxy-granting ticket."""
    if not pgt or not target_service:
        return ProxyResult(
            code=ErrorCode.INVALID_REQUEST,
            description="'pgt' and 'targetService' parameters are both required",
        )
    now = clock.now()
    row = (
        CasTicket.objects.select_related("account__student", "service")
        .filter(
            ticket_hash=ticket_hash(pgt),
            kind=CasTicket.Kind.PROXY_GRANTING,
            expires_at__gt=now,
        )
        .first()
        if pgt.startswith("PGT-")
        else None
    )
    if row is None or not row.account.is_active or not row.service.enabled:
        return ProxyResult(
            code=ErrorCode.INVALID_TICKET, description=f"Ticket {_shown(pgt)} not recognized"
        )
    target = service_for_url(target_service)
    if target is None:
        return ProxyResult(
            code=ErrorCode.UNAUTHORIZED_SERVICE,
            description="The target service is not registered with this CAS server",
        )
    ticket = new_ticket("PT")
    with transaction.atomic():
        CasTicket.objects.create(
            kind=CasTicket.Kind.PROXY,
            ticket_hash=ticket_hash(ticket),
            account=row.account,
            service=target,
            service_url=target_service,
            session_key=row.session_key,
            from_new_login=False,
            authenticated_at=row.authenticated_at,
            proxies=list(row.proxies or []),
            created_at=now,
            expires_at=now + timedelta(seconds=settings.CAS_TICKET_SECONDS),
        )
        audit_record(
            kind=Kind.CAS_PROXY_TICKET_ISSUED,
            student=row.account.student,
            ip=ip,
            service=target.slug,
            proxy=row.service.slug,
        )
    return ProxyResult(ticket=ticket)


# --- Response documents --------------------------------------------------------------------


def _clean(value: str) -> str:
    return _XML_INVALID.sub("", value)


def _text(value: str) -> str:
    # Every value goes through escape(): "<", "&" and ">" cannot open markup.
    return escape(_clean(value))


_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
_OPEN = f'<cas:serviceResponse xmlns:cas="{CAS_NS}">'
_CLOSE = "</cas:serviceResponse>"


def render_xml(result: Validation) -> str:
    """The ``cas:serviceResponse`` of a validation (spec 2.5.2, 2.6.2, Appendix A).

    Written with ``xml.sax.saxutils.escape`` on every value (attribute names come from the
    registry's fixed list and are checked too): faster than ElementTree on this hot path, and
    tests parse the output with an XML parser to check the values round-trip.
    """
    if result.code is not None:
        return (
            f"{_XML_HEAD}{_OPEN}<cas:authenticationFailure code={quoteattr(result.code.value)}>"
            f"{_text(result.description)}</cas:authenticationFailure>{_CLOSE}"
        )
    parts = [_XML_HEAD, _OPEN, "<cas:authenticationSuccess>"]
    parts.append(f"<cas:user>{_text(result.user)}</cas:user>")
    if result.attributes:
        parts.append("<cas:attributes>")
        for name, values in result.attributes.items():
            if not _NAME_RE.fullmatch(name):
                continue
            for value in values:
                parts.append(f"<cas:{name}>{_text(value)}</cas:{name}>")
        parts.append("</cas:attributes>")
    if result.pgt_iou:
        parts.append(f"<cas:proxyGrantingTicket>{_text(result.pgt_iou)}</cas:proxyGrantingTicket>")
    if result.proxies:
        parts.append("<cas:proxies>")
        parts.extend(f"<cas:proxy>{_text(url)}</cas:proxy>" for url in result.proxies)
        parts.append("</cas:proxies>")
    parts.append(f"</cas:authenticationSuccess>{_CLOSE}")
    return "".join(parts)


def render_json(result: Validation) -> str:
    """The JSON form of the same response (``format=JSON``)."""
    body: dict[str, Any]
    if result.code is not None:
        body = {
            "authenticationFailure": {"code": result.code.value, "description": result.description}
        }
    else:
        success: dict[str, Any] = {"user": result.user}
        if result.pgt_iou:
            success["proxyGrantingTicket"] = result.pgt_iou
        if result.proxies:
            success["proxies"] = result.proxies
        if result.attributes:
            success["attributes"] = result.attributes
        body = {"authenticationSuccess": success}
    return json.dumps({"serviceResponse": body}, ensure_ascii=False)


def render_proxy_xml(result: ProxyResult) -> str:
    """The ``/proxy`` response (spec 2.7.2)."""
    if result.code is not None:
        body = (
            f"<cas:proxyFailure code={quoteattr(result.code.value)}>"
            f"{_text(result.description)}</cas:proxyFailure>"
        )
    else:
        body = f"<cas:proxySuccess><cas:proxyTicket>{_text(result.ticket)}</cas:proxyTicket></cas:proxySuccess>"
    return f"{_XML_HEAD}{_OPEN}{body}{_CLOSE}"


def render_proxy_json(result: ProxyResult) -> str:
    """The JSON form of the ``/proxy`` response."""
    if result.code is not None:
        body = {"proxyFailure": {"code": result.code.value, "description": result.description}}
    else:
        body = {"proxySuccess": {"proxyTicket": result.ticket}}
    return json.dumps({"serviceResponse": body})


# --- Single logout ---------------------------------------------------------------------------


def logout_request_xml(ticket: str) -> str:
    """The SAML ``LogoutRequest`` of the spec's Appendix C, naming the service ticket."""
    root = ET.Element(
        f"{{{SAMLP_NS}}}LogoutRequest",
        ID="LR-" + secrets.token_hex(16),
        Version="2.0",
        IssueInstant=clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    ET.SubElement(root, f"{{{SAML_NS}}}NameID").text = "@NOT_USED@"
    ET.SubElement(root, f"{{{SAMLP_NS}}}SessionIndex").text = ticket
    return ET.tostring(root, encoding="unicode")


def _post_logout(url: str, ticket: str) -> None:
    if not _is_http_url(url):
        return
    data = urlencode({"logoutRequest": logout_request_xml(ticket)}).encode()
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        url, data=data, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=settings.CAS_HTTP_TIMEOUT_SECONDS):
            pass
    except (urllib.error.URLError, OSError, ValueError) as exc:
        # Spec 2.3.3.1: errors are ignored ("fire and forget"); logged for the operators.
        logger.warning("CAS single logout to %s failed: %s", urlsplit(url).netloc, exc)


def single_logout_send(entries: list[list[Any]]) -> list[threading.Thread]:
    """POST a LogoutRequest for each (ticket, service id, service URL), each in its own thread.

    The service's registered ``logout_url`` receives it, or else the URL it signed in with.
    Returns the started threads (tests join them; the logout itself never waits).
    """
    ids = {e[1] for e in entries if len(e) == 3}
    services = {s.pk: s for s in Service.objects.filter(pk__in=ids)}
    threads = []
    for ticket, service_id, url in entries:
        service = services.get(service_id)
        if service is None:  # removed from the registry since: it is owed nothing
            continue
        target = service.logout_url or url
        thread = threading.Thread(
            target=_post_logout, args=(target, ticket), name="cas-slo", daemon=True
        )
        thread.start()
        threads.append(thread)
    return threads


def tickets_end(*, account: Account) -> int:
    """Delete every CAS ticket of the account (proxy-granting tickets included).

    For the paths that end sessions without a logout (password change or reset, locking):
    ``sessions_end`` deletes sessions from the store, which sends no ``user_logged_out``.
    Returns how many tickets were deleted.
    """
    deleted, _ = CasTicket.objects.filter(account=account).delete()
    return deleted


@receiver(sessions_ended, dispatch_uid="ent.sso.cas.sessions_ended")
def _end_ended_sessions(
    sender: Any, account: Account, sessions: list[tuple[str, dict[str, Any]]], **kwargs: Any
) -> None:
    """Sessions ended without a logout (password reset or change, locking): same as a logout."""
    for _key, data in sessions:
        session_id = data.get(keys.SSO_ID)
        if isinstance(session_id, str) and session_id:
            CasTicket.objects.filter(session_key=session_id).delete()
        entries = data.get(keys.CAS_SERVICES)
        if isinstance(entries, list) and entries:
            single_logout_send(entries)


@receiver(user_logged_in)
def _remember_authentication(
    sender: Any, request: HttpRequest | None, user: Account, **kwargs: Any
) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[keys.SSO_AUTHENTICATED_AT] = clock.now().isoformat()


@receiver(user_logged_out)
def _end_sign_on(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Logout of the ENT: the session's tickets die and its services are told (SLO)."""
    if request is None or not hasattr(request, "session"):
        return
    session_id = request.session.get(keys.SSO_ID)
    if isinstance(session_id, str) and session_id:
        CasTicket.objects.filter(session_key=session_id).delete()
    entries = request.session.get(keys.CAS_SERVICES)
    if isinstance(entries, list) and entries:
        single_logout_send(entries)
