"""Changing the service registry (administrators, at the help desk): validate, save, audit.

A registry entry decides what a service receives about every student, so a change is checked
here, whoever calls it (form, command, test): ``service_validate`` raises a ``ValidationError``
keyed by field, in French. The rule that matters most is that a CAS pattern never **opens the
registry**: ``.*`` or ``https?://.*`` would let any site receive tickets, hence the student's
attributes. A pattern must therefore fix the scheme and the host of every URL it can match
(``pattern_hosts`` reads the regular expression to find them), over https (plain http only on
the loopback, for a local demo).

Every write runs in ``transaction.atomic`` with its audit record, and an OIDC entry is kept in
step with its django-oauth-toolkit client by ``ent.sso.oidc.oidc_client_sync`` in the same
transaction. A client secret is returned in clear to the caller once (creation, rotation) and
is never written to the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from ent.accounts.models import Account
from ent.core.audit import Kind, audit_record

from .models import Attribute, Service
from .oidc import oidc_client_sync, oidc_secret_rotate

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]"}
MAX_REDIRECT_URIS = 20
# How many steps (one per character of every alternative read) before a pattern is called too
# complex to check: real patterns have a few hosts and an optional port, far below this.
_BUDGET = 2000
_HOST_RE = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"|\[[0-9a-f:.]+\]"
)
_CLIENT_ID_RE = re.compile(r"[A-Za-z0-9._~-]{1,100}")
# Fields that only mean something for one protocol: emptied for the other one, so that an
# entry never carries a forgotten CAS pattern or redirect URI that a later switch would revive.
CAS_ONLY = ("cas_service_pattern", "cas_proxy_callback_pattern")
OIDC_ONLY = ("oidc_client_id", "oidc_redirect_uris")
# Compared before and after an update, for the audit record (names only, never values that
# could be secret: there are none in the entry, the client secret lives in the Application).
AUDITED_FIELDS = (
    "name",
    "name_en",
    "slug",
    "description",
    "description_en",
    "icon",
    "home_url",
    "protocol",
    "enabled",
    "show_on_portal",
    "order",
    "attributes",
    "cas_service_pattern",
    "cas_proxy_callback_pattern",
    "logout_url",
    "oidc_client_id",
    "oidc_redirect_uris",
    "trusted",
)


# --- Which sites a CAS pattern can match --------------------------------------------------------


class _Open(Exception):
    """The pattern can match a URL whose scheme or host it does not fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _open(reason: str) -> _Open:
    help_text = _(
        "Commencez le motif par l'adresse exacte du service, points échappés, par exemple"
        " https://moodle\\.univ-perp\\.fr/.*"
    )
    return _Open(f"{reason} {help_text}")


def _anywhere_message() -> str:
    return _(
        "Ce motif accepterait des adresses de n'importe quel site : ce site pourrait"
        " alors recevoir des tickets CAS et les informations des étudiants."
    )


def _is_digits_only(items: Any) -> bool:
    """Whether a parsed sub-pattern can only match decimal digits (a port number)."""
    for op, av in items:
        if op is sre_c.LITERAL:
            if not chr(av).isdigit():
                return False
        elif op is sre_c.IN:
            for member_op, member in av:
                if member_op is sre_c.LITERAL and chr(member).isdigit():
                    continue
                if member_op is sre_c.RANGE and chr(member[0]) >= "0" and chr(member[1]) <= "9":
                    continue
                if member_op is sre_c.CATEGORY and member is sre_c.CATEGORY_DIGIT:
                    continue
                return False
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            if not _is_digits_only(av[2]):
                return False
        elif op is sre_c.SUBPATTERN:
            if not _is_digits_only(av[-1]):
                return False
        elif op is sre_c.BRANCH:
            if not all(_is_digits_only(alt) for alt in av[1]):
                return False
        else:
            return False
    return True


def _authorities(
    items: list[Any], prefix: str, port_of: str | None, budget: list[int]
) -> Iterator[str]:
    """Yield ``scheme://host`` for every way the pattern can begin; raise ``_Open`` otherwise.

    ``prefix`` is the literal text matched so far; ``port_of`` is set once the host is read
    and a ``:`` started the port (only digits may follow until the path).
    """
    budget[0] -= 1
    if budget[0] < 0:
        raise _Open(_("Ce motif est trop complexe pour être vérifié : simplifiez-le."))
    if port_of is None:
        scheme, sep, rest = prefix.partition("://")
        if sep and rest and rest[-1] in "/?#":
            yield f"{scheme}://{rest[:-1]}"
            return
        if sep and rest.endswith(":"):
            port_of = f"{scheme}://{rest[:-1]}"
    if not items:
        # The end of the pattern: the URL is exactly the prefix (with no path at all).
        if port_of is not None:
            yield port_of
            return
        scheme, sep, rest = prefix.partition("://")
        if sep and rest:
            yield prefix
            return
        raise _open(_("Ce motif ne désigne pas une adresse complète (https://hôte/…)."))
    (op, av), tail = items[0], items[1:]
    if op is sre_c.AT:  # ^, $, \A, \Z: the match is of the whole URL anyway
        yield from _authorities(tail, prefix, port_of, budget)
    elif op is sre_c.SUBPATTERN:
        yield from _authorities(list(av[-1]) + tail, prefix, port_of, budget)
    elif op is sre_c.BRANCH:
        for alternative in av[1]:
            yield from _authorities(list(alternative) + tail, prefix, port_of, budget)
    elif port_of is not None:
        if op is sre_c.LITERAL and chr(av) in "/?#":
            yield port_of
        elif _is_digits_only([(op, av)]):
            yield from _authorities(tail, prefix, port_of, budget)
        else:
            raise _open(_("Après le nom d'hôte et « : », seul un numéro de port est permis."))
    elif op is sre_c.LITERAL:
        yield from _authorities(tail, prefix + chr(av), None, budget)
    elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
        low, high, body = av
        if high > 3:
            raise _open(_anywhere_message())
        for count in range(low, high + 1):
            yield from _authorities(list(body) * count + tail, prefix, None, budget)
    elif op is sre_c.ANY and "://" in prefix:
        raise _open(
            _(
                "Un point non échappé accepte n'importe quel caractère dans le nom d'hôte"
                " (moodle-univ-perp.fr, un autre site, conviendrait) : écrivez \\."
            )
        )
    else:
        raise _open(_anywhere_message())


def _ignores_case(value: Any) -> bool:
    """Whether a parsed pattern (or a part of it) turns IGNORECASE on, for all or a group."""
    if isinstance(value, sre_parse.SubPattern):
        return any(
            (op is sre_c.SUBPATTERN and av[1] & sre_c.SRE_FLAG_IGNORECASE) or _ignores_case(av)
            for op, av in value.data
        )
    if isinstance(value, (list, tuple)):
        return any(_ignores_case(item) for item in value)
    return False


def pattern_hosts(pattern: str) -> list[str]:
    """The ``scheme://host`` every URL matched by ``pattern`` starts with; ``ValidationError``
    (in French, saying why) when the pattern is invalid or does not fix them, or when one of
    them is not https (plain http is accepted on the loopback only)."""
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as exc:
        raise ValidationError(_("Expression régulière invalide : %(e)s") % {"e": exc}) from None
    if parsed.state.flags & sre_c.SRE_FLAG_IGNORECASE or _ignores_case(parsed):
        raise ValidationError(
            _(
                "Le motif ne doit pas ignorer la casse ((?i)) : des lettres d'autres alphabets"
                " pourraient alors désigner un autre domaine. Écrivez l'adresse en minuscules."
            )
        )
    try:
        found = sorted(set(_authorities(list(parsed), "", None, [_BUDGET])))
    except _Open as exc:
        raise ValidationError(exc.message) from None
    except RecursionError:
        raise ValidationError(
            _("Ce motif est trop complexe pour être vérifié : simplifiez-le.")
        ) from None
    for authority in found:
        scheme, _sep, host = authority.partition("://")
        host = host.lower()
        if "@" in host or not _HOST_RE.fullmatch(host):
            raise ValidationError(_("« %(h)s » n'est pas un nom d'hôte valide.") % {"h": host})
        if scheme.lower() != "https" and not (scheme.lower() == "http" and host in LOOPBACK_HOSTS):
            raise ValidationError(
                _(
                    "Le motif doit imposer https:// (%(a)s ne l'impose pas) : un ticket CAS"
                    " passe dans l'adresse et serait lisible sur le réseau. http:// n'est"
                    " permis que pour 127.0.0.1 ou localhost."
                )
                % {"a": authority}
            )
    return found


# --- Validation of a whole entry ----------------------------------------------------------------


def _http_url_error(url: str, *, https_only: bool) -> str | None:
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        _port = parts.port  # raises ValueError on a port out of range
    except ValueError:
        return _("Adresse invalide.")
    if parts.scheme not in ("http", "https") or not hostname:
        return _("Indiquez une adresse complète commençant par https:// (ou http://).")
    if "@" in parts.netloc or any(c.isspace() for c in url):
        return _("L'adresse ne doit contenir ni identifiants (@) ni espace.")
    if parts.fragment or "#" in url:
        return _("L'adresse ne doit pas contenir de fragment (#…).")
    loopback = hostname in ("127.0.0.1", "localhost", "::1")
    if https_only and parts.scheme != "https" and not loopback:
        return _("https:// est obligatoire (http:// seulement pour 127.0.0.1 ou localhost).")
    return None


def service_validate(service: Service) -> None:
    """Check an entry before it is saved; ``ValidationError`` keyed by field, in French."""
    errors: dict[str, list[str]] = {}
    _common_check(service, errors)
    if service.protocol == Service.Protocol.CAS:
        _cas_check(service, errors)
    elif service.protocol == Service.Protocol.OIDC:
        _oidc_check(service, errors)
    if errors:
        raise ValidationError(errors)


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _common_check(service: Service, errors: dict[str, list[str]]) -> None:
    """The model's own validation, the unique slug, the addresses and the attributes."""
    try:
        service.full_clean(validate_unique=False)
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            for message in messages:
                _add(errors, field, message)
    if service.slug and (Service.objects.filter(slug=service.slug).exclude(pk=service.pk).exists()):
        _add(errors, "slug", _("Ce nom court est déjà pris par un autre service."))
    if service.home_url and "home_url" not in errors:
        problem = _http_url_error(service.home_url, https_only=False)
        if problem:
            _add(errors, "home_url", problem)
    if service.logout_url and "logout_url" not in errors:
        problem = _http_url_error(service.logout_url, https_only=False)
        if problem:
            _add(errors, "logout_url", problem)

    unknown = set(service.attributes or []) - set(Attribute.values)
    if not isinstance(service.attributes, list) or unknown:
        _add(errors, "attributes", _("Choisissez des attributs dans la liste."))


def _cas_check(service: Service, errors: dict[str, list[str]]) -> None:
    """A CAS entry: a service pattern, and patterns whose hosts can be read."""
    if not service.cas_service_pattern:
        _add(errors, "cas_service_pattern", _("Indiquez le motif des adresses du service."))
    for field in CAS_ONLY:
        value = getattr(service, field)
        if value and field not in errors:
            try:
                pattern_hosts(value)
            except ValidationError as exc:
                for message in exc.messages:
                    _add(errors, field, message)


def _oidc_check(service: Service, errors: dict[str, list[str]]) -> None:
    """An OIDC entry: a well-formed unused client id, and HTTPS redirect URIs."""
    if service.oidc_client_id and not _CLIENT_ID_RE.fullmatch(service.oidc_client_id):
        _add(
            errors,
            "oidc_client_id",
            _("Identifiant client : lettres, chiffres et . _ ~ - seulement (100 au plus)."),
        )
    elif (
        service.oidc_client_id
        and Service.objects.filter(oidc_client_id=service.oidc_client_id)
        .exclude(pk=service.pk)
        .exists()
    ):
        _add(
            errors,
            "oidc_client_id",
            _("Cet identifiant client est déjà utilisé par un autre service."),
        )
    uris = [line.strip() for line in service.oidc_redirect_uris.splitlines() if line.strip()]
    if not uris:
        _add(errors, "oidc_redirect_uris", _("Indiquez au moins une adresse de redirection."))
    elif len(uris) > MAX_REDIRECT_URIS:
        _add(
            errors,
            "oidc_redirect_uris",
            _("%(n)d adresses de redirection au plus.") % {"n": MAX_REDIRECT_URIS},
        )
    for uri in uris[:MAX_REDIRECT_URIS]:
        problem = _http_url_error(uri, https_only=True)
        if problem:
            _add(errors, "oidc_redirect_uris", f"{uri[:100]} : {problem}")


def _normalise(service: Service) -> None:
    for field in OIDC_ONLY if service.protocol == Service.Protocol.CAS else CAS_ONLY:
        setattr(service, field, "")
    if service.protocol == Service.Protocol.OIDC:
        lines = [line.strip() for line in service.oidc_redirect_uris.splitlines()]
        service.oidc_redirect_uris = "\n".join(dict.fromkeys(line for line in lines if line))
    service.attributes = sorted(set(service.attributes or []))


# --- Writes ------------------------------------------------------------------------------------


def service_save(*, service: Service, actor: Account | None, ip: str | None) -> str | None:
    """Validate and save an entry (new or changed); returns a new OIDC client secret, in clear,
    when the entry's client was just created (to be shown once), else None.

    Raises ``ValidationError`` keyed by field; nothing is saved then.
    """
    _normalise(service)
    service_validate(service)
    created = service.pk is None
    before = (
        {}
        if created
        else Service.objects.filter(pk=service.pk).values(*AUDITED_FIELDS).first() or {}
    )
    saved_pk, saved_client_id = service.pk, service.oidc_client_id
    try:
        with transaction.atomic():
            service.save()
            secret = oidc_client_sync(service=service, actor=actor)
            changed = sorted(f for f in AUDITED_FIELDS if before.get(f) != getattr(service, f))
            extra: dict[str, Any] = {} if created else {"changed": changed}
            audit_record(
                kind=Kind.REGISTRY_CREATED if created else Kind.REGISTRY_UPDATED,
                actor=actor,
                ip=ip,
                service=service.slug,
                protocol=service.protocol,
                attributes=list(service.attributes),
                **extra,
            )
    except IntegrityError:
        # Two administrators saving the same short name at once: the unique index decides.
        _restore(service, saved_pk, saved_client_id, created)
        raise ValidationError(
            {"slug": _("Ce nom court est déjà pris par un autre service.")}
        ) from None
    except ValidationError:
        _restore(service, saved_pk, saved_client_id, created)
        raise
    return secret


def _restore(service: Service, pk: int | None, client_id: str, created: bool) -> None:
    # The transaction rolled back: the object in memory must not claim a row that is gone.
    service.pk = pk
    service.oidc_client_id = client_id
    if created:
        service._state.adding = True


def service_enabled_set(
    *, service: Service, enabled: bool, actor: Account | None, ip: str | None
) -> None:
    """Open or close an entry: a disabled CAS service gets no ticket and its tickets no longer
    validate; a disabled OIDC client cannot authenticate and loses its live tokens."""
    with transaction.atomic():
        row = Service.objects.select_for_update().get(pk=service.pk)
        row.enabled = enabled
        row.save(update_fields=["enabled"])
        if row.protocol == Service.Protocol.OIDC:
            oidc_client_sync(service=row, actor=actor)
        audit_record(
            kind=Kind.REGISTRY_ENABLED if enabled else Kind.REGISTRY_DISABLED,
            actor=actor,
            ip=ip,
            service=row.slug,
        )
    service.enabled = enabled


def service_delete(*, service: Service, actor: Account | None, ip: str | None) -> None:
    """Remove an entry, its CAS tickets and its OIDC client (with its tokens)."""
    with transaction.atomic():
        audit_record(
            kind=Kind.REGISTRY_DELETED,
            actor=actor,
            ip=ip,
            service=service.slug,
            name=service.name,
            protocol=service.protocol,
        )
        # The pre_delete receiver of ent.sso.oidc deletes the Application and its tokens.
        service.delete()


def service_secret_rotate(*, service: Service, actor: Account | None, ip: str | None) -> str:
    """A new client secret for an OIDC entry, in clear, to be shown once; the old one stops
    working at once."""
    if service.protocol != Service.Protocol.OIDC:
        raise ValidationError(_("Seul un service OpenID Connect a un secret client."))
    with transaction.atomic():
        secret = oidc_secret_rotate(service=service, actor=actor)
        audit_record(
            kind=Kind.REGISTRY_SECRET_ROTATED,
            actor=actor,
            ip=ip,
            service=service.slug,
            client_id=service.oidc_client_id,
        )
    return secret
