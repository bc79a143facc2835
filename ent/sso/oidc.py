"""The OpenID Connect provider of ENT: django-oauth-toolkit, customised here and only here.

What this module decides, on top of django-oauth-toolkit (DOT):

* **The registry is the only source of clients.** A DOT ``Application`` exists only as the
  shadow of an OIDC entry of ``Service``; ``oidc_client_sync`` and ``oidc_secret_rotate`` are
  the only functions that create or change one. A client whose entry is disabled, deleted or
  switched to CAS cannot authenticate.
* **Client secrets are stored as a SHA-256 digest**, not with the password hasher. A client
  secret is 128 random characters (hundreds of bits of entropy): a slow, salted password hash
  protects low-entropy human passwords against guessing and adds nothing here, while it made
  every token exchange cost about 0.37 s of CPU (PBKDF2, 1,000,000 rounds; see NOTES.md). One
  SHA-256 of such a secret cannot be inverted, so a leaked table still reveals no secret.
* **Exact redirect URIs**: the requested URI must be one of the registered ones, character for
  character (OIDC Core 3.1.2.1); DOT's looser loopback/port rules do not apply.
* **Claims** come from the attributes the registry lets the service receive
  (``ent.sso.attributes.attributes_for``) *and* the scopes granted; ``sub`` is a random opaque
  identifier per account (``OidcSubject``), never the student number.
* **Back-channel logout** (OpenID Connect Back-Channel Logout 1.0): ending an ENT session POSTs
  a signed logout token to every OIDC service that session signed in to.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.translation import gettext as _
from jwcrypto import jwk, jwt
from oauth2_provider.generators import generate_client_id, generate_client_secret
from oauth2_provider.models import (
    AbstractApplication,
    AccessToken,
    Application,
    Grant,
    IDToken,
    RefreshToken,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem
from oauthlib.oauth2.rfc6749 import errors as oauth_errors
from oauthlib.openid import Server as OpenIDServer

from ent.accounts.models import Account
from ent.accounts.sessions import sessions_ended
from ent.core import clock
from ent.core import session_keys as keys
from ent.core.audit import Kind, audit_record
from ent.core.durable import outlive_refusal
from ent.core.fastsql import delete_then_insert, insert
from ent.core.net import client_ip
from ent.directory.models import Student

from .attributes import attributes_for
from .models import (
    Attribute,
    OidcAuthentication,
    OidcClient,
    OidcSession,
    OidcSpentCode,
    OidcSubject,
    Service,
)

log = logging.getLogger(__name__)

SECRET_PREFIX = "ent-sha256$"  # noqa: S105 (a marker of the stored format, not a secret)
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# A relying party that does not answer quickly must not hold anything up (the POST runs in a
# background thread anyway).
BACKCHANNEL_TIMEOUT_SECONDS = 5.0

# Claim → the registry attribute that must be allowed for it to be released.
CLAIM_ATTRIBUTE = {
    "preferred_username": Attribute.UID,
    "name": Attribute.DISPLAY_NAME,
    "given_name": Attribute.GIVEN_NAME,
    "family_name": Attribute.SN,
    "email": Attribute.MAIL,
    "email_verified": Attribute.MAIL,
    "eduperson_affiliation": Attribute.AFFILIATION,
    "eduperson_principal_name": Attribute.EPPN,
}
SUPPORTED_CLAIMS = ["sub", *CLAIM_ATTRIBUTE]


# --- Client secrets ---------------------------------------------------------------------------


def secret_digest(secret: str) -> str:
    """The stored form of a client secret (see the module docstring for why SHA-256)."""
    return SECRET_PREFIX + hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(provided: str | None, stored: str) -> bool:
    """Whether ``provided`` is the secret whose digest is ``stored`` (constant time)."""
    # A stored value without the prefix is never compared in clear: no plaintext fallback.
    if not provided or not stored.startswith(SECRET_PREFIX):
        return False
    return hmac.compare_digest(secret_digest(provided), stored)


# --- The registry → DOT Application -----------------------------------------------------------


def _redirect_uris(service: Service) -> list[str]:
    uris = [line.strip() for line in service.oidc_redirect_uris.splitlines() if line.strip()]
    if not uris:
        raise ValidationError(
            {"oidc_redirect_uris": _("Indiquez au moins une adresse de redirection.")}
        )
    for uri in uris:
        try:
            parts = urlsplit(uri)
        except ValueError:  # "https://[x/": an unclosed IPv6 bracket
            parts = urlsplit("")
        if (
            parts.scheme not in ("https", "http")
            or not parts.hostname
            or "#" in uri
            or "@" in parts.netloc
            or any(c.isspace() for c in uri)
        ):
            raise ValidationError(
                {
                    "oidc_redirect_uris": _(
                        "Adresse de redirection invalide : %(uri)s (adresse http(s) complète,"
                        " sans fragment ni identifiants)."
                    )
                    % {"uri": uri}
                }
            )
    return uris


def _application_fill(application: Application, service: Service, uris: list[str]) -> None:
    application.name = service.name[:255]
    application.client_id = service.oidc_client_id
    application.client_type = AbstractApplication.CLIENT_CONFIDENTIAL
    application.authorization_grant_type = AbstractApplication.GRANT_AUTHORIZATION_CODE
    application.redirect_uris = " ".join(uris)
    # After an RP-initiated logout a service may send the student back to its home page only.
    application.post_logout_redirect_uris = service.home_url
    application.skip_authorization = service.trusted
    application.algorithm = AbstractApplication.RS256_ALGORITHM
    # DOT must not hash again: client_secret already holds our SHA-256 digest.
    application.hash_client_secret = False
    application.user = None


def _oidc_client_remove(service: Service, actor: Account | None) -> None:
    link = OidcClient.objects.filter(service=service).select_related("application").first()
    if link is None:
        return
    client_id = link.application.client_id
    link.application.delete()  # cascades to the link, the grants and the tokens
    audit_record(
        kind=Kind.OIDC_CLIENT_REMOVED, actor=actor, service=service.slug, client_id=client_id
    )


def oidc_client_sync(*, service: Service, actor: Account | None = None) -> str | None:
    """Create or update the DOT Application of a registry entry; call after every edit.

    Returns the new client secret, in clear, only when the client is created (it is shown to
    staff once and never stored). A service that is no longer OIDC loses its Application.
    Raises ``ValidationError`` (field errors, in French) for bad redirect URIs or a client id
    used by another service.
    """
    with transaction.atomic():
        if service.protocol != Service.Protocol.OIDC:
            _oidc_client_remove(service, actor)
            return None
        uris = _redirect_uris(service)
        if not service.oidc_client_id:
            service.oidc_client_id = generate_client_id()
            service.save(update_fields=["oidc_client_id"])
        link = OidcClient.objects.filter(service=service).select_related("application").first()
        taken = Application.objects.filter(client_id=service.oidc_client_id)
        if link is not None:
            taken = taken.exclude(pk=link.application_id)
        if taken.exists():
            raise ValidationError(
                {
                    "oidc_client_id": _(
                        "Cet identifiant client est déjà utilisé par un autre service."
                    )
                }
            )
        secret: str | None = None
        if link is None:
            secret = generate_client_secret()
            application = Application(client_secret=secret_digest(secret))
        else:
            application = link.application
        _application_fill(application, service, uris)
        application.save()
        if not service.enabled:
            # A disabled service keeps its client (and secret) for later, but no live token.
            AccessToken.objects.filter(application=application).delete()
            RefreshToken.objects.filter(application=application).delete()
        if link is None:
            OidcClient.objects.create(
                service=service, application=application, secret_set_at=clock.now()
            )
        audit_record(
            kind=Kind.OIDC_CLIENT_CREATED if link is None else Kind.OIDC_CLIENT_UPDATED,
            actor=actor,
            service=service.slug,
            client_id=application.client_id,
            trusted=service.trusted,
        )
    return secret


def oidc_secret_rotate(*, service: Service, actor: Account | None = None) -> str:
    """Give the service's client a new secret; returns it in clear (shown once, never stored).

    The previous secret stops working at once. Creates the client first if needed.
    """
    with transaction.atomic():
        created = oidc_client_sync(service=service, actor=actor)
        link = OidcClient.objects.select_related("application").get(service=service)
        secret = created or generate_client_secret()
        if created is None:
            link.application.client_secret = secret_digest(secret)
            link.application.save(update_fields=["client_secret", "updated"])
            link.secret_set_at = clock.now()
            link.save(update_fields=["secret_set_at"])
        audit_record(
            kind=Kind.OIDC_SECRET_ROTATED,
            actor=actor,
            service=service.slug,
            client_id=link.application.client_id,
        )
    return secret


@receiver(pre_delete, sender=Service, dispatch_uid="ent.sso.oidc.service_deleted")
def _service_deleted(sender: Any, instance: Service, **kwargs: Any) -> None:
    # The link cascades with the service, but the Application (and its tokens) would stay
    # behind: delete it with the entry.
    Application.objects.filter(ent_client__service=instance).delete()


def service_of(application: Application) -> Service | None:
    """The registry entry of an Application (None for an orphan, which is never usable)."""
    try:
        service: Service = application.ent_client.service
    except OidcClient.DoesNotExist:
        return None
    return service


def client_id_plausible(client_id: object) -> bool:
    """Whether a client id from a request may be looked up at all.

    PostgreSQL refuses a NUL byte in a text parameter (DataError, a 500): such an id, or an
    absurdly long one, can match no client, so it is answered like an unknown id.
    """
    return isinstance(client_id, str) and 0 < len(client_id) <= 255 and client_id.isprintable()


def _usable(application: Application) -> bool:
    service = service_of(application)
    return service is not None and service.enabled and service.protocol == Service.Protocol.OIDC


# --- Subjects and claims ----------------------------------------------------------------------


def subject_for(account: Account) -> str:
    """The account's ``sub``: created at first need, then never changes."""
    try:
        return account.oidc_subject.sub
    except OidcSubject.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            subject, _created = OidcSubject.objects.get_or_create(
                account=account, defaults={"sub": str(uuid.uuid4())}
            )
    except IntegrityError:  # two first sign-ins at once: the other one won
        subject = OidcSubject.objects.get(account=account)
    account.oidc_subject = subject
    return subject.sub


def claims_for(account: Account, service: Service) -> dict[str, Any]:
    """Every claim the registry lets ``service`` receive about ``account`` (before scopes)."""
    attributes = attributes_for(account, service)
    claims: dict[str, Any] = {"sub": subject_for(account)}
    for claim, attribute in CLAIM_ATTRIBUTE.items():
        if attribute in attributes:
            claims[claim] = attributes[attribute]
    if "email" in claims:
        # The institutional address is assigned by the university, hence verified.
        claims["email_verified"] = True
    if "eduperson_affiliation" in claims:
        claims["eduperson_affiliation"] = [claims["eduperson_affiliation"]]
    return claims


# --- The token endpoint's data access ---------------------------------------------------------
#
# A token exchange runs a handful of simple statements, and Django's query compiler cost far
# more CPU than the statements themselves (about 0.4 ms to build a SELECT with its joins or an
# INSERT, against 0.05 ms to run it). The statements of the exchange are therefore written
# once per process from the models' metadata (so they follow the migrations) and their rows
# go through Django's own converters and ``Model.from_db``: what the ORM would do, without
# building the same SQL again on every request. Nothing here sends model signals; neither
# ENT nor django-oauth-toolkit listens to those of these models.


class _Columns:
    """The columns of one model under a table alias, and how to turn them into an instance."""

    def __init__(self, model: type[Model], alias: str, connection: BaseDatabaseWrapper):
        qn = connection.ops.quote_name
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        self.names = [field.attname for field in self.fields]
        self.sql = ", ".join(f"{qn(alias)}.{qn(field.column)}" for field in self.fields)
        self.converters: list[tuple[int, Any, list[Callable[..., Any]]]] = []
        for index, field in enumerate(self.fields):
            column = field.get_col(alias)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(
                connection
            )
            if converters:
                self.converters.append((index, column, converters))

    def instance(self, row: tuple[Any, ...], start: int, connection: BaseDatabaseWrapper) -> Any:
        values = list(row[start : start + len(self.fields)])
        for index, column, converters in self.converters:
            for convert in converters:
                values[index] = convert(values[index], column, connection)
        if values[0] is None and self.fields[0].primary_key:
            return None  # no row on this side of a LEFT JOIN
        return self.model.from_db(connection.alias, self.names, values)


class _GrantQuery:
    """The grant of a code with its client, registry entry, account, student and subject."""

    def __init__(self, connection: BaseDatabaseWrapper):
        qn = connection.ops.quote_name

        def table(model: type[Model]) -> str:
            return qn(model._meta.db_table)

        self.parts = [
            _Columns(Grant, "g", connection),
            _Columns(Application, "a", connection),
            _Columns(OidcClient, "c", connection),
            _Columns(Service, "s", connection),
            _Columns(Account, "u", connection),
            _Columns(Student, "st", connection),
            _Columns(OidcSubject, "sub", connection),
            _Columns(OidcAuthentication, "au", connection),
        ]

        def col(model: type[Model], name: str) -> str:
            return qn(model._meta.get_field(name).column)  # type: ignore[union-attr, arg-type]

        pk = qn("id")
        # Every name comes from the models' metadata, quoted; the code is a parameter.
        self.sql = (
            f"SELECT {', '.join(part.sql for part in self.parts)}"  # noqa: S608
            f" FROM {table(Grant)} g"
            f" INNER JOIN {table(Application)} a ON a.{pk} = g.{col(Grant, 'application')}"
            f" LEFT JOIN {table(OidcClient)} c ON c.{col(OidcClient, 'application')} = a.{pk}"
            f" LEFT JOIN {table(Service)} s ON s.{pk} = c.{col(OidcClient, 'service')}"
            f" LEFT JOIN {table(Account)} u ON u.{pk} = g.{col(Grant, 'user')}"
            f" LEFT JOIN {table(Student)} st ON st.{pk} = u.{col(Account, 'student')}"
            f" LEFT JOIN {table(OidcSubject)} sub ON sub.{col(OidcSubject, 'account')} = u.{pk}"
            f" LEFT JOIN {table(OidcAuthentication)} au"
            f" ON au.{col(OidcAuthentication, 'grant_id')} = g.{pk}"
            f" WHERE g.{col(Grant, 'code')} = %s"
        )

    def load(self, code: str, connection: BaseDatabaseWrapper) -> Grant | None:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [code])
            row = cursor.fetchone()
        if row is None:
            return None
        objects = []
        start = 0
        for part in self.parts:
            objects.append(part.instance(row, start, connection))
            start += len(part.fields)
        grant, application, link, service, account, student, subject, authentication = objects
        grant._ent_authentication = authentication

        # The relations the exchange follows, filled in as select_related would.
        def cache(model: type[Model], name: str, instance: Any, value: Any) -> None:
            model._meta.get_field(name).set_cached_value(instance, value)  # type: ignore[union-attr]

        cache(Grant, "application", grant, application)
        cache(Grant, "user", grant, account)
        cache(Application, "ent_client", application, link)
        if link is not None:
            cache(OidcClient, "application", link, application)
            cache(OidcClient, "service", link, service)
        if account is not None:
            cache(Account, "student", account, student)
            cache(Account, "oidc_subject", account, subject)
            if subject is not None:
                cache(OidcSubject, "account", subject, account)
        return grant


@functools.cache
def _grant_query(alias: str, vendor: str) -> _GrantQuery:
    return _GrantQuery(connections[alias])


def _grant_load(code: str) -> Grant | None:
    """The grant of ``code``, or None; see ``_GrantQuery``."""
    connection = connections[router.db_for_read(Grant)]
    return _grant_query(connection.alias, connection.vendor).load(code, connection)


def token_generate(request: Any) -> str:
    """A new access or refresh token (``ACCESS_TOKEN_GENERATOR``, ``REFRESH_TOKEN_GENERATOR``).

    256 bits from the operating system's generator in one call; oauthlib's default draws 30
    characters one by one (178 bits), which cost more than signing the ID token.
    """
    return secrets.token_urlsafe(32)


class _RS256Key:
    """The ID-token signing key, parsed once per PEM (a new key, a new setting: a new entry)."""

    def __init__(self, pem: str):
        key = jwk_from_pem(pem)  # DOT's own per-process cache of the same key
        self.kid = str(key.thumbprint())
        self.private_key = key.get_op_key("sign")

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        """The JWS compact serialisation (RFC 7515 7.1) of ``claims``, signed RS256 (RFC 7518
        3.3: RSASSA-PKCS1-v1_5 with SHA-256), as jwcrypto would produce it without building
        a header registry for every token."""
        signing_input = (
            _b64url(json.dumps(header, default=str).encode("utf-8"))
            + "."
            + _b64url(json.dumps(claims, default=str).encode("utf-8"))
        )
        signature = self.private_key.sign(
            signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
        return signing_input + "." + _b64url(signature)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@functools.lru_cache(maxsize=4)
def _rs256_key(pem: str) -> _RS256Key:
    return _RS256Key(pem)


# --- Replayed authorization codes -------------------------------------------------------------


def _code_digest(code: str) -> str:
    """How a spent code is kept (a random code: SHA-256 is enough, see OidcSpentCode)."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def _oauth_ip(request: Any) -> str | None:
    """The client address of an oauthlib request (DOT copies Django's META into its headers),
    read as ``client_ip`` reads a Django request (trusted proxies and all)."""
    headers = getattr(request, "headers", None) or {}
    meta = {
        name: headers[name]
        for name in ("REMOTE_ADDR", "HTTP_X_FORWARDED_FOR")
        if isinstance(headers.get(name), str)
    }
    return client_ip(SimpleNamespace(META=meta))  # type: ignore[arg-type]


def _replay_audit(*, replayed: str, user_id: Any, client_id: str, ip: str | None) -> None:
    account = (
        Account.objects.select_related("student").filter(pk=user_id).first() if user_id else None
    )
    audit_record(
        kind=Kind.OIDC_TOKEN_REPLAYED,
        student=account.student if account is not None else None,
        ip=ip,
        client_id=client_id,
        replayed=replayed,
    )


def _spent_code_replayed(code: Any, client: Application, request: Any) -> None:
    """A code was presented again: revoke, after the refusal, what its exchange produced."""
    if not isinstance(code, str) or not code.isprintable() or len(code) > 255:
        return
    outlive_refusal(
        functools.partial(
            spent_code_revoke,
            code_hash=_code_digest(code),
            client=client,
            ip=_oauth_ip(request),
        )
    )


def spent_code_revoke(*, code_hash: str, client: Application, ip: str | None) -> bool:
    """Revoke the tokens produced by the spent code ``code_hash`` of ``client`` (RFC 6749
    4.1.2): its access token and its whole refresh-token family; audit the replay. Returns
    whether the code was a spent one."""
    # Kept until ``ent purge`` removes it once the code has expired: a later replay, while
    # the row is there, still revokes.
    row = OidcSpentCode.objects.filter(code_hash=code_hash, application_id=client.pk).first()
    if row is None:
        return False
    log.warning("authorization code replayed: the tokens it produced are revoked")
    user_id = None
    if row.token_family is not None:
        user_id = (
            RefreshToken.objects.filter(token_family=row.token_family)
            .values_list("user_id", flat=True)
            .first()
        )
        RefreshToken.revoke_family(row.token_family)
    if row.access_token_id is not None:
        user_id = user_id or (
            AccessToken.objects.filter(pk=row.access_token_id)
            .values_list("user_id", flat=True)
            .first()
        )
        AccessToken.objects.filter(pk=row.access_token_id).delete()
    _replay_audit(replayed="authorization_code", user_id=user_id, client_id=client.client_id, ip=ip)
    return True


def refresh_family_revoke(
    *, family: uuid.UUID, user_id: Any, client: Application, ip: str | None
) -> None:
    """Revoke a refresh-token family after the replay of one of its rotated tokens; audit it."""
    log.warning("refresh token replayed: its family is revoked")
    RefreshToken.revoke_family(family)
    _replay_audit(replayed="refresh_token", user_id=user_id, client_id=client.client_id, ip=ip)


# --- The validator (DOT's customisation point) ------------------------------------------------


class ENTOAuth2Validator(OAuth2Validator):
    """DOT's validator with the registry, exact redirect URIs, digests and ENT claims.

    The token exchange is kept lean: the client is loaded with its registry entry in one
    query, and the grant with its account, student and subject in one more, then reused by
    every check oauthlib makes (scopes, PKCE challenge and method, nonce, redirect URI).
    """

    oidc_claim_scope = {
        **OAuth2Validator.oidc_claim_scope,
        "eduperson_affiliation": "affiliation",
        "eduperson_principal_name": "affiliation",
    }

    # prompt=none (OIDC Core 3.1.2.6) -----------------------------------------------------------

    def validate_silent_login(self, request: Any) -> bool:
        """A silent request gets a code only with a signed-in student.

        oauthlib's request carries no Django user when the request is first read:
        ``authorize_decide`` (called by ``AuthorizeView.dispatch`` right after) answers
        ``login_required`` to a signed-out browser or a session older than ``max_age``.
        """
        return True

    def validate_silent_authorization(self, request: Any) -> bool:
        """Silent sign-in needs no consent only for services the university trusts.

        When the request is first read (no user yet) ``authorize_decide`` answers, so that a
        signed-out browser gets login_required before consent_required.
        """
        if getattr(request, "user", None) is None:
            return True
        client = getattr(request, "client", None)
        return bool(isinstance(client, Application) and client.skip_authorization)

    # Clients ---------------------------------------------------------------------------------

    def _check_secret(self, provided_secret: str, stored_secret: str) -> bool:
        return secret_matches(provided_secret, stored_secret)

    def _load_application(self, client_id: str, request: Any) -> Application | None:
        client = request.client
        if isinstance(client, Application) and client.client_id == client_id:
            return client
        request.client = None
        if not client_id_plausible(client_id):
            return None
        grant = getattr(request, "_ent_grant", None)
        if grant is not None and grant.application.client_id == client_id:
            # The client of the code being exchanged, loaded with it (and its registry entry)
            # in this transaction: the same row a query by client id would return.
            client = grant.application
        else:
            try:
                client = Application.objects.select_related("ent_client__service").get(
                    client_id=client_id
                )
            except Application.DoesNotExist:
                return None
        if not _usable(client):
            return None
        request.client = client
        return client

    def validate_bearer_token(self, token: str, scopes: Any, request: Any) -> bool:
        # The Authorization header only (RFC 9700 2.4): oauthlib falls back to an access_token
        # parameter of the query or the body when the header is absent. Protected views
        # answer that placement with invalid_request first (oidc_views.bearer_placement_refusal);
        # this keeps any other protected endpoint from accepting it.
        if "Authorization" not in (request.headers or {}):
            return False
        # An access token stops working as soon as its service is disabled or removed.
        return bool(super().validate_bearer_token(token, scopes, request)) and _usable(
            request.client
        )

    # Redirect URIs: exact string comparison ------------------------------------------------

    def validate_redirect_uri(
        self, client_id: str, redirect_uri: str, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        return bool(redirect_uri) and redirect_uri in request.client.redirect_uris.split()

    def get_default_redirect_uri(self, client_id: str, request: Any, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        # OIDC Core 3.1.2.1: redirect_uri is REQUIRED; never fill in a registered one.
        return None

    def confirm_redirect_uri(
        self,
        client_id: str,
        code: str,
        redirect_uri: str,
        client: Any,
        request: Any,
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        grant = self._grant(code, request)
        return grant is not None and bool(redirect_uri) and redirect_uri == grant.redirect_uri

    # Authorization codes: one query for the grant, its client and its account --------------

    def _grant(self, code: str, request: Any) -> Grant | None:
        if getattr(request, "_ent_grant_code", None) == code:
            return getattr(request, "_ent_grant", None)
        if not isinstance(code, str) or not code.isprintable() or len(code) > 255:
            return None  # a NUL byte would be a DataError on PostgreSQL; no code looks so
        grant = _grant_load(code)
        request._ent_grant_code = code
        request._ent_grant = grant
        return grant

    def validate_code(
        self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        grant = self._grant(code, request)
        if grant is None:
            # Unknown, or already exchanged: a replayed code revokes what it produced.
            _spent_code_replayed(code, client, request)
            return False
        if grant.application_id != client.pk or grant.is_expired():
            return False
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        authentication = getattr(grant, "_ent_authentication", None)
        if authentication is not None:
            # auth_time of the ID token, and the family its refresh tokens will carry it in.
            request.ent_authenticated_at = authentication.authenticated_at
            request.ent_token_family = authentication.family
        return True

    def get_code_challenge(self, code: str, request: Any) -> str | None:
        grant = self._grant(code, request)
        return (grant.code_challenge or None) if grant is not None else None

    def get_code_challenge_method(self, code: str, request: Any) -> str | None:
        grant = self._grant(code, request)
        return (grant.code_challenge_method or None) if grant is not None else None

    def get_authorization_code_scopes(
        self, client_id: str, code: str, redirect_uri: str, request: Any
    ) -> list[str]:
        grant = self._grant(code, request)
        return grant.scope.split(" ") if grant is not None and grant.scope else []

    def get_authorization_code_nonce(
        self, client_id: str, code: str, redirect_uri: str, request: Any
    ) -> str | None:
        grant = self._grant(code, request)
        return (grant.nonce or None) if grant is not None else None

    def invalidate_authorization_code(
        self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        # Single use: the code's row goes in the exchange's transaction, and a digest of the
        # code takes its place, linked to the tokens just written, until the code would have
        # expired (a replay then revokes them). Of two exchanges of one code at once, the
        # second finds nothing left to delete (on PostgreSQL it waits for the first to
        # commit), fails with invalid_grant, its tokens are rolled back, and the first one's
        # are revoked: the code was presented twice.
        grant = self._grant(code, request)
        if grant is None or grant.application_id != request.client.pk:
            raise oauth_errors.InvalidGrantError(request=request)
        access_token = getattr(request, "_ent_access_token", None)
        refresh_token = getattr(request, "_ent_refresh_token", None)
        spent = OidcSpentCode(
            code_hash=_code_digest(code),
            application_id=grant.application_id,
            access_token_id=access_token.pk if access_token is not None else None,
            token_family=refresh_token.token_family if refresh_token is not None else None,
            expires_at=grant.expires,
        )
        if not delete_then_insert(Grant, grant.pk, spent):
            _spent_code_replayed(code, request.client, request)
            raise oauth_errors.InvalidGrantError(request=request)

    # Tokens: reuse what this request already loaded, write without rebuilding SQL ------------

    def _check_and_set_request_resource(self, request: Any) -> None:
        # DOT reads the grant again here for RFC 8707 resources; ENT's grants carry none unless
        # the service asked, so answer from the grant already loaded when it can.
        grant = getattr(request, "_ent_grant", None)
        if (
            request.grant_type == "authorization_code"
            and grant is not None
            and grant.code == request.code
            and not getattr(request, "resource", None)
            and not grant.resource
        ):
            request.resource = []
            return
        super()._check_and_set_request_resource(request)

    def _create_access_token(
        self, expires: Any, request: Any, token: Any, source_refresh_token: Any = None
    ) -> Any:
        # DOT finds the ID token again by verifying the JWT it has just signed and reading it
        # back from the database; finalize_id_token left it on the request.
        id_token = getattr(request, "id_token", None)
        if token.get("id_token") and not isinstance(id_token, IDToken):
            request._ent_access_token = super()._create_access_token(
                expires, request, token, source_refresh_token
            )
            return request._ent_access_token
        access_token = AccessToken(
            user=request.user,
            scope=token["scope"],
            expires=expires,
            id_token=id_token if token.get("id_token") else None,
            application=request.client,
            source_refresh_token=source_refresh_token,
            resource=getattr(request, "resource", []),
        )
        self._set_token_value(access_token, token["access_token"])
        insert(access_token)
        request._ent_access_token = access_token  # for the spent code (invalidate_...)
        return access_token

    def _create_refresh_token(
        self, request: Any, refresh_token_code: str, access_token: Any, previous_refresh_token: Any
    ) -> RefreshToken:
        # DOT's, written with ent.core.fastsql.insert.
        refresh_token = RefreshToken(
            user=request.user,
            application=request.client,
            access_token=access_token,
            # The first refresh token of an exchange starts the family chosen with the grant
            # (OidcAuthentication): every refresh then finds the original auth_time by it.
            token_family=(
                previous_refresh_token.token_family
                if previous_refresh_token
                else getattr(request, "ent_token_family", None) or uuid.uuid4()
            ),
            resource=getattr(request, "resource", []),
        )
        self._set_token_value(refresh_token, refresh_token_code)
        insert(refresh_token)
        request._ent_refresh_token = refresh_token  # for the spent code (invalidate_...)
        return refresh_token

    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        """DOT's, with its reuse protection made to last.

        DOT revokes the whole family when a rotated (revoked) refresh token comes back, then
        answers invalid_grant; the token endpoint rolls a refused exchange back, which undid
        that revocation. It is done again after the rollback (``outlive_refusal``).
        """
        valid = bool(
            super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        )
        if not valid and oauth2_settings.REFRESH_TOKEN_REUSE_PROTECTION:
            # A revoked row for this token means DOT has just revoked its family (ENT keeps no
            # grace period: REFRESH_TOKEN_GRACE_PERIOD_SECONDS is 0).
            checksum = hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()
            found = (
                RefreshToken.objects.filter(token_checksum=checksum, revoked__isnull=False)
                .exclude(token_family=None)
                .values_list("token_family", "user_id")
                .first()
            )
            if found is not None and isinstance(client, Application):
                outlive_refusal(
                    functools.partial(
                        refresh_family_revoke,
                        family=found[0],
                        user_id=found[1],
                        client=client,
                        ip=_oauth_ip(request),
                    )
                )
        return valid

    def save_bearer_token(self, token: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        # DOT opens a savepoint here; inside the token endpoint's transaction (rolled back
        # whole on any error) it only costs two round trips. Alone, still one transaction.
        with transaction.atomic(using=router.db_for_write(AccessToken), savepoint=False):
            return self._save_bearer_token(token, request, *args, **kwargs)

    def _save_id_token(
        self, jti: Any, request: Any, expires: Any, *args: Any, **kwargs: Any
    ) -> Any:
        id_token = IDToken(
            user=request.user,
            scope=request.scope or " ".join(request.scopes),
            expires=expires,
            jti=jti,
            application=request.client,
        )
        insert(id_token)
        return id_token

    def finalize_id_token(self, id_token: Any, token: Any, token_handler: Any, request: Any) -> str:
        """DOT's, with the key parsed once per process and no savepoint for one INSERT."""
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        # Workaround for oauthlib bug #746 (as DOT does).
        if "nonce" not in id_token and request.nonce:
            id_token["nonce"] = request.nonce
        client = request.client
        header = {"typ": "JWT", "alg": client.algorithm}
        if client.algorithm == AbstractApplication.RS256_ALGORITHM:
            key = _rs256_key(oauth2_settings.OIDC_RSA_PRIVATE_KEY)
            header["kid"] = key.kid
            serialized = key.sign(header, id_token)
        else:  # never for an ENT client (_application_fill), kept as DOT does it
            jwt_token = jwt.JWT(
                header=json.dumps(header, default=str), claims=json.dumps(id_token, default=str)
            )
            jwt_token.make_signed_token(client.jwk_key)
            serialized = str(jwt_token.serialize())
        row = self._save_id_token(id_token["jti"], request, expiration_time)
        request.access_token = row
        request.id_token = row
        return serialized

    # Grants: "plain" PKCE is refused even if a future setting let it through ---------------

    def _create_authorization_code(self, request: Any, code: Any, expires: Any = None) -> Grant:
        from oauthlib.oauth2.rfc6749 import errors

        if request.code_challenge_method != "S256":
            raise errors.InvalidRequestError(
                description='PKCE is required, with code_challenge_method "S256".',
                request=request,
            )
        grant: Grant = super()._create_authorization_code(request, code, expires)
        # When the student typed the password (AuthorizeView puts it in the credentials): the
        # auth_time of every ID token this grant leads to, refreshed ones included.
        now = clock.now()
        insert(
            OidcAuthentication(
                grant_id=grant.pk,
                family=uuid.uuid4(),
                authenticated_at=getattr(request, "ent_authenticated_at", None) or now,
                created_at=now,
            )
        )
        return grant

    # ID tokens: auth_time is the sign-in, not the token (OIDC Core 2, 12.2) ------------------

    def get_id_token_dictionary(self, token: Any, token_handler: Any, request: Any) -> Any:
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        # DOT puts Account.last_login here, which ENT does not keep (accounts/apps.py): the
        # time of the sign-in that the authorization came from, the same in every ID token of
        # that authorization. Unknown (a family from before this was recorded): left out, as
        # the claim is optional then.
        when = _authenticated_at_of(request)
        claims.pop("auth_time", None)
        if when is not None:
            claims["auth_time"] = int(when.timestamp())
        return claims, expiration_time

    # Authorization requests: the "claims" parameter must be a JSON object -----------------

    def validate_user_match(
        self, id_token_hint: Any, scopes: Any, claims: Any, request: Any
    ) -> bool:
        # oauthlib parses "claims" as any JSON value ("1e309" is infinity, "[]" a list) and
        # fails only when it parses it a second time, as the grant is created: refuse it at the
        # first look, so the answer never depends on which pass sees it (OIDC Core 5.5).
        if claims not in (None, "") and not isinstance(claims, dict):
            raise oauth_errors.InvalidRequestError(
                description="The claims parameter must be a JSON object.", request=request
            )
        # id_token_hint is checked by ent.sso.oidc.authorize_decide, with the ENT session.
        return True

    # Claims and issuer ------------------------------------------------------------------------

    def validate_user(self, *args: Any, **kwargs: Any) -> bool:
        # No password grant (see ENTServer); never check a password outside login_attempt.
        return False

    def get_oidc_issuer_endpoint(self, request: Any) -> str:
        return str(settings.BASE_URL)

    def get_claim_dict(self, request: Any) -> dict[str, Any]:
        service = service_of(request.client)
        if service is None:
            return {"sub": subject_for(request.user)}
        return claims_for(request.user, service)

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        # Everything is in get_claim_dict; taking ``request`` keeps DOT on its per-request path.
        return {}


class ENTServer(OpenIDServer):
    """oauthlib's OpenID Connect server with only the authorization-code flow (and refresh).

    The implicit and hybrid response types and the password, client-credentials and device
    grants are removed from the endpoints themselves, not merely refused per client: the
    password grant in particular would check a password outside ``login_attempt`` and its
    throttling.
    """

    def __init__(self, request_validator: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request_validator, *args, **kwargs)
        response_types: dict[str, Any] = self.response_types
        grant_types: dict[str, Any] = self.grant_types
        self._response_types = {"code": response_types["code"]}
        self._grant_types = {
            name: handler
            for name, handler in grant_types.items()
            if name in ("authorization_code", "refresh_token")
        }


def _authenticated_at_of(request: Any) -> Any:
    """The sign-in time behind a token request: from the grant at the code exchange, from the
    refresh token's family at a refresh; None when unknown."""
    when = getattr(request, "ent_authenticated_at", None)
    if when is not None:
        return when
    refresh = getattr(request, "refresh_token_instance", None)
    family = getattr(refresh, "token_family", None)
    if family is None:
        return None
    row = OidcAuthentication.objects.filter(family=family).only("authenticated_at").first()
    return row.authenticated_at if row is not None else None


# --- The authorization request's decision (OIDC Core 3.1.2.1 to 3.1.2.6) ---------------------

# Parameters ENT does not support, and the error each one gets (OIDC Core 3.1.2.6, 6.1, 6.2).
UNSUPPORTED_PARAMETERS = {
    "request": "request_not_supported",
    "request_uri": "request_uri_not_supported",
    "registration": "registration_not_supported",
}
_MAX_AGE = re.compile(r"[0-9]{1,10}")
# The prompt values ENT acts on (discovery: prompt_values_supported). "create" (OpenID Connect
# Prompt Create 1.0) is refused: students are imported, never registered by a service.
PROMPT_VALUES = ["none", "login", "consent", "select_account"]


@dataclass(frozen=True)
class AuthorizeDecision:
    """What ``/oauth/authorize/`` does with a valid request, before the consent step.

    ``error``: an OIDC Core 3.1.2.6 error code, sent to the registered redirect URI.
    ``login``: the student must type the password (again) first: to ``/login``, then back.
    ``consent``: show the consent page even to a trusted service (``prompt=consent``).
    """

    error: str | None = None
    description: str = ""
    login: bool = False
    consent: bool = False


def session_authenticated_at(session: Any) -> datetime | None:
    """When the password of this ENT session was typed (``ent.sso.cas`` records it at every
    sign-in), or None if unknown."""
    raw = session.get(keys.SSO_AUTHENTICATED_AT)
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def id_token_hint_subject(hint: str) -> str | None:
    """The ``sub`` of an ID token ENT issued (signature checked, expiry not: a hint is often
    an old token), or None if ``hint`` is not one."""
    keys = jwk.JWKSet()
    for pem in [
        oauth2_settings.OIDC_RSA_PRIVATE_KEY,
        *oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE,
    ]:
        keys.add(jwk_from_pem(pem))
    try:
        token = jwt.JWT(jwt=hint, key=keys, algs=["RS256"], check_claims=False)
        claims = json.loads(token.claims)
    except Exception:
        return None
    if not isinstance(claims, dict) or claims.get("iss") != str(settings.BASE_URL):
        return None
    sub = claims.get("sub")
    return sub if isinstance(sub, str) else None


@dataclass(frozen=True, slots=True)
class _AuthorizeAsks:
    """What an authorization request asks of the ENT session, once its syntax is checked."""

    prompt: frozenset[str]
    max_age: int | None
    hint_sub: str | None


def _authorize_read(params: Any) -> _AuthorizeAsks | AuthorizeDecision:
    """The request's ``prompt``, ``max_age`` and ``id_token_hint``, or the refusal of a
    parameter ENT does not support or cannot read."""
    for name, error in UNSUPPORTED_PARAMETERS.items():
        if name in params:
            return AuthorizeDecision(error=error, description=f"{name} is not supported.")
    prompt = frozenset(str(params.get("prompt", "")).split())
    if "none" in prompt and len(prompt) > 1:
        return AuthorizeDecision(
            error="invalid_request", description="prompt=none goes with no other value."
        )
    if "create" in prompt:
        return AuthorizeDecision(
            error="invalid_request", description="prompt=create is not supported."
        )
    if params.get("response_mode", "query") != "query":
        # Discovery offers "query" only; a code in a fragment or a form is never sent.
        return AuthorizeDecision(
            error="invalid_request", description="Only response_mode=query is supported."
        )
    max_age: int | None = None
    if "max_age" in params:
        raw = str(params.get("max_age", ""))
        if not _MAX_AGE.fullmatch(raw):
            return AuthorizeDecision(
                error="invalid_request", description="max_age must be a number of seconds."
            )
        max_age = int(raw)
    hint_sub: str | None = None
    if params.get("id_token_hint"):
        hint_sub = id_token_hint_subject(str(params["id_token_hint"]))
        if hint_sub is None:
            return AuthorizeDecision(
                error="invalid_request", description="id_token_hint is not an ID token of ENT."
            )
    return _AuthorizeAsks(prompt=prompt, max_age=max_age, hint_sub=hint_sub)


def _sign_in_reason(
    *, asks: _AuthorizeAsks, signed_in: bool, fresh: bool, authenticated_at: datetime | None
) -> str | None:
    """``login_required`` when the session does not do for this request, else None."""
    if not signed_in:
        return "login_required"
    if fresh:
        return None
    if asks.prompt & {"login", "select_account"}:
        # select_account: the ENT login page is where one signs in as another account.
        return "login_required"
    if asks.max_age is not None and (
        authenticated_at is None or (clock.now() - authenticated_at).total_seconds() > asks.max_age
    ):
        return "login_required"
    return None


def authorize_decide(
    *,
    params: Any,
    account: Account | None,
    trusted: bool,
    authenticated_at: datetime | None,
    login_asked_at: datetime | None,
) -> AuthorizeDecision:
    """Decide an authorization request that oauthlib found valid (client, redirect URI,
    response type, PKCE, ``prompt=none`` alone), from the ENT session.

    ``params``: the request's parameters; ``account``: the signed-in student (None when
    signed out); ``trusted``: the service skips the consent page; ``authenticated_at``: when the session's password was typed;
    ``login_asked_at``: when this very request last sent the browser to ``/login`` (the
    sign-in that followed satisfies ``prompt=login`` and ``max_age``, even ``max_age=0``).
    """
    asks = _authorize_read(params)
    if isinstance(asks, AuthorizeDecision):
        return asks
    fresh = (
        account is not None
        and authenticated_at is not None
        and login_asked_at is not None
        and authenticated_at >= login_asked_at
    )
    reason = _sign_in_reason(
        asks=asks, signed_in=account is not None, fresh=fresh, authenticated_at=authenticated_at
    )
    if reason is None and asks.hint_sub is not None and asks.hint_sub != subject_for(account):  # type: ignore[arg-type]
        # Another student than the hint names: that one may sign in; once they have, a
        # mismatch is final (OIDC Core 3.1.2.1, id_token_hint).
        if fresh:
            return AuthorizeDecision(
                error="login_required", description="The ENT session is another student's."
            )
        reason = "login_required"
    if reason is not None:
        if "none" in asks.prompt:
            return AuthorizeDecision(error=reason, description="The student must sign in.")
        return AuthorizeDecision(login=True)
    if "none" in asks.prompt and not trusted:
        return AuthorizeDecision(
            error="consent_required", description="This service needs the student's consent."
        )
    return AuthorizeDecision(consent="consent" in asks.prompt)


# --- Authorisations and back-channel logout --------------------------------------------------


def oidc_authorisation_record(*, request: HttpRequest, client_id: str, ip: str | None) -> None:
    """Audit a sign-in to a service and remember it for back-channel logout.

    Call inside the transaction that issued the authorization code.
    """
    application = (
        Application.objects.select_related("ent_client__service")
        .filter(client_id=client_id)
        .first()
    )
    service = service_of(application) if application is not None else None
    account = request.user
    if service is None or not isinstance(account, Account):
        return
    audit_record(
        kind=Kind.OIDC_AUTHORIZED,
        student=account.student,
        actor=account,
        ip=ip,
        service=service.slug,
        client_id=client_id,
    )
    session_key = request.session.session_key
    if session_key:
        # Rows outlive the sessions they name only until the longest session could last.
        horizon = clock.now() - _session_lifetime()
        OidcSession.objects.filter(created_at__lt=horizon).delete()
        # The sign-in times of grants never exchanged, and of families no longer refreshable.
        OidcAuthentication.objects.filter(created_at__lt=horizon).exclude(
            family__in=RefreshToken.objects.filter(
                revoked__isnull=True, token_family__isnull=False
            ).values("token_family")
        ).delete()
        OidcSession.objects.get_or_create(
            session_key=session_key, service=service, defaults={"account": account}
        )


def _session_lifetime() -> Any:
    from datetime import timedelta

    return timedelta(seconds=int(settings.SESSION_COOKIE_AGE))


def _signing_key() -> Any:
    return jwk_from_pem(oauth2_settings.OIDC_RSA_PRIVATE_KEY)


def logout_token(*, client_id: str, account: Account) -> str:
    """A Back-Channel Logout 1.0 logout token for one client (RS256, the ID-token key)."""
    key = _signing_key()
    now = int(time.time())
    claims = {
        "iss": settings.BASE_URL,
        "aud": client_id,
        "iat": now,
        "exp": now + 120,
        "jti": str(uuid.uuid4()),
        "sub": subject_for(account),
        "events": {BACKCHANNEL_EVENT: {}},
    }
    header = {"alg": "RS256", "typ": "logout+jwt", "kid": key.thumbprint()}
    token = jwt.JWT(header=header, claims=claims)
    token.make_signed_token(key)
    return str(token.serialize())


def _deliver(deliveries: list[tuple[str, str, str]]) -> None:
    for slug, url, token in deliveries:
        try:
            response = requests.post(
                url,
                data={"logout_token": token},
                timeout=BACKCHANNEL_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
            if response.status_code != 200:
                log.warning("back-channel logout to %s: HTTP %s", slug, response.status_code)
        except requests.RequestException as exc:
            log.warning("back-channel logout to %s failed: %s", slug, type(exc).__name__)


def oidc_backchannel_logout(*, session_keys: list[str], account: Account) -> int:
    """Send back-channel logout tokens for ENT sessions that have ended; returns how many.

    Called on every logout (``user_logged_out``); also call it when sessions end without a
    logout (e.g. ``ent.accounts.sessions.sessions_end`` after a password change), with the
    keys of the sessions ended. The POSTs run in a background thread: never blocks.
    """
    keys = [key for key in session_keys if key]
    if not keys:
        return 0
    rows = list(
        OidcSession.objects.filter(session_key__in=keys).select_related(
            "service__oidc_client__application"
        )
    )
    if not rows:
        return 0
    OidcSession.objects.filter(pk__in=[row.pk for row in rows]).delete()
    deliveries = []
    for row in rows:
        service = row.service
        link = getattr(service, "oidc_client", None)
        if not service.logout_url or not service.enabled or link is None:
            continue
        token = logout_token(client_id=link.application.client_id, account=account)
        deliveries.append((service.slug, service.logout_url, token))
    if deliveries:
        threading.Thread(target=_deliver, args=(deliveries,), daemon=True).start()
    return len(deliveries)


@receiver(user_logged_out, dispatch_uid="ent.sso.oidc.backchannel_logout")
def _backchannel_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Tell every OIDC service this session signed in to that the session has ended."""
    if request is None or not isinstance(user, Account):
        return
    session_key = request.session.session_key
    if session_key:
        oidc_backchannel_logout(session_keys=[session_key], account=user)


@receiver(sessions_ended, dispatch_uid="ent.sso.oidc.sessions_ended")
def _backchannel_logout_ended(
    sender: Any, account: Account, sessions: list[tuple[str, dict[str, Any]]], **kwargs: Any
) -> None:
    """Sessions ended without a logout (password reset or change, locking): same as a logout."""
    oidc_backchannel_logout(session_keys=[key for key, _data in sessions], account=account)


# --- Demo ---------------------------------------------------------------------------------------

DEMO_SLUG = "emploi-du-temps"
# What the portal tile says, in the registry's two languages.
DEMO_WORDS = {
    "name": "Emploi du temps",
    "name_en": "Timetable",
    "description": "Votre emploi du temps.",
    "description_en": "Your timetable.",
}


def register_demo_oidc_client() -> tuple[str, str | None]:
    """Register (once) the demo OIDC service "Emploi du temps"; return (client id, secret).

    The secret is returned only the first time (it is stored as a digest); rotate it with
    ``oidc_secret_rotate`` to see a new one.
    """
    from .demo_services import edt_logout_uri, edt_redirect_uri, edt_url

    urls = {
        "home_url": edt_url(),
        "logout_url": edt_logout_uri(),
        "oidc_redirect_uris": edt_redirect_uri(),
    }
    service, created = Service.objects.get_or_create(
        slug=DEMO_SLUG,
        defaults={
            **DEMO_WORDS,
            "icon": Service.Icon.CALENDAR,
            **urls,
            "protocol": Service.Protocol.OIDC,
            "attributes": [
                Attribute.UID,
                Attribute.DISPLAY_NAME,
                Attribute.GIVEN_NAME,
                Attribute.SN,
                Attribute.MAIL,
                Attribute.AFFILIATION,
            ],
            "trusted": True,
            "order": 40,
        },
    )
    if not created:
        # A demo database from an earlier version, or ENT_DEMO_SERVICES_PORT changed: point it
        # at the stand-in service (its client at the new redirect URI), with the tile's words
        # of this version (no protocol jargon, in French and English).
        moved = any(getattr(service, field) != url for field, url in urls.items())
        Service.objects.filter(pk=service.pk).update(**urls, **DEMO_WORDS)
        if moved and OidcClient.objects.filter(service=service).exists():
            service.refresh_from_db()
            oidc_client_sync(service=service)
    if not created and OidcClient.objects.filter(service=service).exists():
        return service.oidc_client_id, None
    secret = oidc_client_sync(service=service)
    return service.oidc_client_id, secret
