"""Throttling of guessable secrets (CNIL délibération 2022-100, case 2).

For one key (a student number), after ``THROTTLE_FREE_FAILURES`` consecutive failures every
new failure imposes a delay that doubles from ``THROTTLE_BASE_DELAY`` seconds (at least one
minute), and no more than ``THROTTLE_MAX_FAILURES_PER_DAY`` failures are accepted in 24 hours.
A success ends the consecutive run but not the daily count. A second, looser policy counts the
failures of one client address across every account it tries.

Each secret has counters of its own, and only a success on a secret ends that secret's run: a
right INE proves the INE, not the password (issue 13 §2).

``ACTIONS`` below is the one table of every throttled action: its name, what it protects, the
``ENT_*`` settings that give its figures and its policy. Callers name the action:
``blocked(action, key, ip=…)`` before a guess and ``failed(action, key, ip=…)`` after a wrong
one (both also count the client address when the action says so); ``success``, ``release``,
``forget`` and ``read`` take a ``Policy`` (``policy(action)``). ``limits()`` gives the rows
that the README, ``/documentation/`` and the help desk's settings page show.

Counters are shared by every instance of the service: in Redis when ``ENT_CACHE_URL`` is set
(one hash per key, updated by a Lua script so that concurrent failures on several instances
are all counted), otherwise in the database (``ThrottleCounter`` rows, ``select_for_update``).
Both stores implement the same policy and pass the same tests (tests/core/test_throttle.py).
Written here rather than with django-axes: axes has a fixed cool-off, not the growing delay and
daily cap the CNIL asks for, and django-ratelimit refuses the database cache.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import clock, fastsql, metrics
from .models import ThrottleCounter
from .redis import redis_client, redis_enabled, redis_key

StrOrPromise = str | Promise


@dataclass(frozen=True)
class Policy:
    """How failures of one scope are limited."""

    scope: str
    window: timedelta
    max_failures_per_window: int
    free_failures: int | None = None
    base_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)


def _cnil(scope: str, window: timedelta = timedelta(hours=24)) -> Policy:
    """CNIL 2022-100 case 2: free failures, then a doubling delay, and a cap per window."""
    return Policy(
        scope=scope,
        window=window,
        max_failures_per_window=settings.THROTTLE_MAX_FAILURES_PER_DAY,
        free_failures=settings.THROTTLE_FREE_FAILURES,
        base_delay=timedelta(seconds=settings.THROTTLE_BASE_DELAY),
        max_delay=timedelta(seconds=settings.THROTTLE_MAX_DELAY),
    )


def password_policy() -> Policy:
    """Wrong passwords of one account from "untrusted clients" (no valid device cookie).

    The scope keeps its historical name ("account"): counters written before the device
    cookies existed still count after an upgrade.
    """
    return _cnil("account")


def device_policy() -> Policy:
    """Wrong passwords from one browser holding a device cookie of the account.

    The run and its delay are those of the CNIL; the cap holds over the cookie's whole life
    (its window is the cookie's lifetime), and a cookie that reaches it is revoked: its
    browser counts as an untrusted client again (``Reading.exhausted``).
    """
    return _cnil("device", timedelta(days=settings.DEVICE_COOKIE_DAYS))


def ine_policy() -> Policy:
    """Wrong INE for one student number (activation, update request, and /login)."""
    return _cnil("ine")


def totp_policy() -> Policy:
    """Wrong TOTP codes of one staff account."""
    return _cnil("totp")


def address_policy() -> Policy:
    """Failures from one client address, whatever it tried."""
    return Policy(
        scope="ip",
        window=timedelta(hours=1),
        max_failures_per_window=settings.THROTTLE_IP_FAILURES_PER_HOUR,
    )


def code_policy() -> Policy:
    """Wrong mailed codes from one client address (codes are long, but still guessable)."""
    return _per_hour("code-ip", settings.THROTTLE_CODE_FAILURES_PER_HOUR)


def reset_identifier_policy() -> Policy:
    """Reset requests for one identifier (student number or institutional address)."""
    return _per_hour("reset-id", settings.PASSWORD_RESET_PER_HOUR)


def reset_address_policy() -> Policy:
    """Reset requests from one client address, whatever identifiers it gives."""
    return _per_hour("reset-ip", settings.PASSWORD_RESET_IP_PER_HOUR)


def send_policy() -> Policy:
    """Webmail messages sent per account and per hour."""
    return _per_hour("webmail-send", settings.WEBMAIL_SEND_PER_HOUR)


def recipients_policy() -> Policy:
    """Webmail recipients written to per account and per hour (one message to 100 counts 100)."""
    return _per_hour("webmail-rcpt", settings.WEBMAIL_RECIPIENTS_PER_HOUR)


def _per_hour(scope: str, cap: int) -> Policy:
    return Policy(scope=scope, window=timedelta(hours=1), max_failures_per_window=cap)


# --- The table of throttled actions -----------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One throttled action: what it protects, the settings giving its figures, its policy.

    ``settings`` are Django setting names, each read from ``ENT_<name>``. ``address``: the
    action also counted on the client address (``blocked``/``failed`` with ``ip``). An action
    without ``policy`` is capped elsewhere and listed here for the documentation (the mailed
    links per purpose, ``core/codes.py``).
    """

    name: str
    label: StrOrPromise
    settings: tuple[str, ...]
    policy: Callable[[], Policy] | None = None
    address: str | None = None
    staff: bool = False  # met by the help desk only: not in the students' guide


_CNIL_SETTINGS = (
    "THROTTLE_FREE_FAILURES",
    "THROTTLE_BASE_DELAY",
    "THROTTLE_MAX_DELAY",
    "THROTTLE_MAX_FAILURES_PER_DAY",
)

# Every throttled action, once (as django-allauth's ACCOUNT_RATE_LIMITS). The key each counts:
#   password            student number: the password from clients without a device cookie
#                       (sign-in, and the password typed again before a change)
#   device              a device cookie's id: the password from that browser (ent.sso.devices);
#                       at its cap the cookie is revoked, the browser is untrusted again
#   address             client address, whatever it tried (with password, ine, totp)
#   ine                 student number: the INE (activation, update request, every failed /login)
#   helpdesk-password   "staff:<name>", in the password's counters (same scope)
#   totp                "totp:<account id>": a staff TOTP code
#   code                client address: unknown mailed codes (long, single-use)
#   reset-identifier    normalised identifier of a reset request (with reset-address)
#   links-…             the account a link is mailed to (counted in core/codes.py)
#   webmail-…           account id: messages sent, recipients written to (a weight per message)
ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action(
            "password",
            gettext_lazy("Mot de passe, depuis un navigateur inconnu (par compte)"),
            _CNIL_SETTINGS,
            password_policy,
            "address",
        ),
        Action(
            "device",
            gettext_lazy("Mot de passe, depuis votre navigateur habituel"),
            (*_CNIL_SETTINGS, "DEVICE_COOKIE_DAYS"),
            device_policy,
        ),
        Action(
            "address",
            gettext_lazy("Échecs depuis une même adresse IP"),
            ("THROTTLE_IP_FAILURES_PER_HOUR",),
            address_policy,
        ),
        Action(
            "ine", gettext_lazy("INE (par numéro étudiant)"), _CNIL_SETTINGS, ine_policy, "address"
        ),
        Action(
            "helpdesk-password",
            gettext_lazy("Connexion à l'assistance : mot de passe"),
            _CNIL_SETTINGS,
            password_policy,
            "address",
            staff=True,
        ),
        Action(
            "totp",
            gettext_lazy("Connexion à l'assistance : code TOTP"),
            _CNIL_SETTINGS,
            totp_policy,
            "address",
            staff=True,
        ),
        Action(
            "code",
            gettext_lazy("Codes de lien inconnus essayés (par adresse IP)"),
            ("THROTTLE_CODE_FAILURES_PER_HOUR",),
            code_policy,
        ),
        Action(
            "reset-identifier",
            gettext_lazy("Demandes de réinitialisation du mot de passe (par identifiant)"),
            ("PASSWORD_RESET_PER_HOUR",),
            reset_identifier_policy,
            "reset-address",
        ),
        Action(
            "reset-address",
            gettext_lazy("Demandes de réinitialisation du mot de passe (par adresse IP)"),
            ("PASSWORD_RESET_IP_PER_HOUR",),
            reset_address_policy,
        ),
        Action(
            "links-activation",
            gettext_lazy("Renvois du lien d'activation"),
            ("ACTIVATION_RESEND_PER_HOUR",),
        ),
        Action(
            "links-password-reset",
            gettext_lazy("Liens de réinitialisation du mot de passe envoyés"),
            ("PASSWORD_RESET_LINKS_PER_HOUR",),
        ),
        Action(
            "links-email-change",
            gettext_lazy("Liens de vérification d'une nouvelle adresse personnelle envoyés"),
            ("EMAIL_CHANGE_LINKS_PER_HOUR",),
        ),
        Action(
            "links-forward-verify",
            gettext_lazy("Liens de vérification d'une adresse de redirection envoyés"),
            ("FORWARD_VERIFY_LINKS_PER_HOUR",),
        ),
        Action(
            "webmail-send",
            gettext_lazy("Messages envoyés depuis la messagerie"),
            ("WEBMAIL_SEND_PER_HOUR",),
            send_policy,
        ),
        Action(
            "webmail-recipients",
            gettext_lazy("Destinataires écrits depuis la messagerie"),
            ("WEBMAIL_RECIPIENTS_PER_HOUR",),
            recipients_policy,
        ),
    )
}


@dataclass(frozen=True)
class Limit:
    """One row of the documented limits: what is limited, its figure now, its settings."""

    label: StrOrPromise
    figure: str
    settings: tuple[str, ...]  # the environment variables, ``ENT_…``


def limits(*, students: bool = False) -> list[Limit]:
    """The table as ``/documentation/`` (``students``: the limits students meet) and the help
    desk's settings page show it."""
    return [
        Limit(action.label, _figure(action), tuple(f"ENT_{name}" for name in action.settings))
        for action in ACTIONS.values()
        if not (students and action.staff)
    ]


def _figure(action: Action) -> str:
    if action.policy is None:  # a mailed link's hourly cap (core/codes.py)
        return _("%(cap)s par heure") % {"cap": getattr(settings, action.settings[0])}
    found = action.policy()
    if found.free_failures is None:
        return _("%(cap)s par heure") % {"cap": found.max_failures_per_window}
    return _(
        "%(free)s essais, puis un délai doublant de %(base)s s à %(max)s s ; "
        "au plus %(cap)s échecs en %(days)s j"
    ) % {
        "free": found.free_failures,
        "base": int(found.base_delay.total_seconds()),
        "max": int(found.max_delay.total_seconds()),
        "cap": found.max_failures_per_window,
        "days": found.window.days,
    }


def policy(action: str) -> Policy:
    """The policy of a throttled action of ``ACTIONS``."""
    factory = ACTIONS[action].policy
    if factory is None:
        raise ValueError(f"{action} is capped in core/codes.py, not here")
    return factory()


def reading(action: str, key: str, *, ip: str | None = None) -> Reading:
    """``read`` of ``key`` under ``action`` (first) and of the client address ``ip`` when the
    action also counts it: the check before every guess, with the runs for ``success``."""
    pairs = [(policy(action), key)]
    address = ACTIONS[action].address
    if ip and address is not None:
        pairs.append((policy(address), ip))
    return read(*pairs)


def blocked(action: str, key: str, *, ip: str | None = None) -> datetime | None:
    """When ``key`` (or the client address ``ip``) may try ``action`` again; None: now."""
    return reading(action, key, ip=ip).retry_at


def failed(action: str, key: str, *, ip: str | None = None, weight: int = 1) -> datetime | None:
    """Count one failure of ``action`` for ``key`` and, when given, the client address ``ip``;
    returns the latest time either may try again, if one is now blocked."""
    times = [failure(policy(action), key, weight)]
    address = ACTIONS[action].address
    if ip and address is not None:
        times.append(failure(policy(address), ip))
    return max((t for t in times if t is not None), default=None)


def _hash(scope: str, key: str) -> str:
    return hashlib.sha256(f"{scope}\x00{key.strip().lower()}".encode()).hexdigest()


def retry_at(policy: Policy, key: str) -> datetime | None:
    """When ``key`` may try again, or None if it may try now."""
    return read((policy, key)).retry_at


@dataclass(frozen=True)
class Reading:
    """The counters of several (policy, key) pairs, read together before a guess is checked."""

    retry_at: datetime | None  # when every pair may try again; None if all may try now
    runs: tuple[int, ...]  # the consecutive failures of each pair, in the order asked
    # When each pair may try again (None: now), and whether its window's cap is reached.
    blocked: tuple[datetime | None, ...] = ()
    exhausted: tuple[bool, ...] = ()


def read(*pairs: tuple[Policy, str], count: bool = True) -> Reading:
    """``retry_at`` of several pairs in one round trip, with their runs of failures.

    A run read here lets ``success`` skip its write when there is nothing to reset.
    ``count=False``: the caller decides which pairs block (``note_throttled`` for those).
    """
    if redis_enabled():
        pipe = redis_client().pipeline(transaction=False)
        for policy, key in pairs:
            pipe.hmget(_redis_name(policy, key), ["bu", "cf", "ws", "wf"])
        found = [
            (
                _from_micros(int(bu)) if bu is not None else None,
                int(cf or 0),
                _from_micros(int(ws)) if ws is not None else None,
                int(wf or 0),
            )
            for bu, cf, ws, wf in pipe.execute()
        ]
    else:
        hashes = [(policy.scope, _hash(policy.scope, key)) for policy, key in pairs]
        # Before every guess: the statement is compiled once per number of pairs.
        rows = {
            (scope, key_hash): (until, run, started, counted)
            for scope, key_hash, until, run, started, counted in fastsql.select(
                ThrottleCounter,
                f"throttle-read-{len(pairs)}",
                functools.partial(_counters, len(pairs)),
                *(value for pair in hashes for value in pair),
            )
        }
        found = [rows.get(h, (None, 0, None, 0)) for h in hashes]
    now = clock.now()
    blocked: list[datetime | None] = []
    exhausted: list[bool] = []
    for (policy, _key), (until, _run, started, counted) in zip(pairs, found, strict=True):
        blocked.append(until if until is not None and until > now else None)
        exhausted.append(
            started is not None
            and now - started < policy.window
            and counted >= policy.max_failures_per_window
        )
        if count and blocked[-1] is not None:
            note_throttled(policy)
    times = [until for until in blocked if until is not None]
    return Reading(
        max(times) if times else None,
        tuple(found_[1] for found_ in found),
        tuple(blocked),
        tuple(exhausted),
    )


def note_throttled(policy: Policy) -> None:
    """Count one request refused by ``policy`` (``ent_throttled_requests_total``)."""
    metrics.THROTTLED.labels(scope=policy.scope).inc()


def _counters(count: int) -> QuerySet[ThrottleCounter, tuple[Any, ...]]:
    """The counters of ``count`` (scope, key hash) pairs: ``fastsql.Arg`` 2i and 2i + 1."""
    condition = Q()
    for i in range(count):
        condition |= Q(scope=fastsql.Arg(2 * i), key_hash=fastsql.Arg(2 * i + 1))
    return ThrottleCounter.objects.filter(condition).values_list(
        "scope",
        "key_hash",
        "blocked_until",
        "consecutive_failures",
        "window_started_at",
        "window_failures",
    )


def failure(policy: Policy, key: str, weight: int = 1) -> datetime | None:
    """Count one failure for ``key``; returns when it may try again if it is now blocked.

    ``weight`` counts several at once (the recipients of one webmail message).
    """
    if redis_enabled():
        return _redis_failure(policy, key, weight)
    return _db_failure(policy, key, weight)


def remaining(policy: Policy, key: str) -> int:
    """How many more may be counted for ``key`` in the current window before it is blocked."""
    if redis_enabled():
        fields = redis_client().hmget(_redis_name(policy, key), ["ws", "wf"])
        started = _from_micros(int(fields[0])) if fields[0] is not None else None
        counted = int(fields[1] or 0)
    else:
        row = (
            ThrottleCounter.objects.filter(scope=policy.scope, key_hash=_hash(policy.scope, key))
            .only("window_started_at", "window_failures")
            .first()
        )
        started = row.window_started_at if row is not None else None
        counted = row.window_failures if row is not None else 0
    if started is None or clock.now() - started >= policy.window:
        return policy.max_failures_per_window
    return max(0, policy.max_failures_per_window - counted)


def success(policy: Policy, key: str, run: int | None = None) -> None:
    """A success ends the run of consecutive failures (the daily count stays).

    ``run``: the run as ``read`` found it before the guess was checked; 0 writes nothing (a
    failure counted meanwhile, during the hashing, is then taken as coming after this success).
    """
    if run == 0:
        return
    if redis_enabled():
        _redis_run(_SUCCESS, policy, key)
    else:
        _db_success(policy, key)


def release(policy: Policy, key: str) -> None:
    """Lift the current delay and the consecutive run (the count of the window stays).

    For when the person proved who they are another way (a password reset through the mailed
    link): the old guesses say nothing about the new password, but the daily cap still holds.
    """
    if redis_enabled():
        _redis_run(_RELEASE, policy, key)
    else:
        _db_release(policy, key)


def forget(policy: Policy, key: str) -> None:
    """Drop every count of ``key`` (the help desk lifting a revoked device cookie's block)."""
    if redis_enabled():
        redis_client().delete(_redis_name(policy, key))
    else:
        ThrottleCounter.objects.filter(
            scope=policy.scope, key_hash=_hash(policy.scope, key)
        ).delete()


# --- Database store ---------------------------------------------------------------------------


def _db_failure(policy: Policy, key: str, weight: int) -> datetime | None:
    now = clock.now()
    with transaction.atomic():
        row, _created = ThrottleCounter.objects.select_for_update().get_or_create(
            scope=policy.scope,
            key_hash=_hash(policy.scope, key),
            defaults={"updated_at": now},
        )
        if row.window_started_at is None or now - row.window_started_at >= policy.window:
            row.window_started_at = now
            row.window_failures = 0
        row.window_failures += weight
        row.consecutive_failures += weight
        blocked: datetime | None = None
        if row.window_failures >= policy.max_failures_per_window:
            blocked = row.window_started_at + policy.window
        if policy.free_failures is not None and row.consecutive_failures >= policy.free_failures:
            extra = row.consecutive_failures - policy.free_failures
            delay = min(policy.base_delay * (2 ** min(extra, 30)), policy.max_delay)
            blocked = max(blocked or now, now + delay)
        row.blocked_until = blocked
        row.updated_at = now
        row.save()
    return blocked


def _db_success(policy: Policy, key: str) -> None:
    ThrottleCounter.objects.filter(
        scope=policy.scope, key_hash=_hash(policy.scope, key), consecutive_failures__gt=0
    ).update(consecutive_failures=0, updated_at=clock.now())


def _db_release(policy: Policy, key: str) -> None:
    ThrottleCounter.objects.filter(scope=policy.scope, key_hash=_hash(policy.scope, key)).update(
        consecutive_failures=0, blocked_until=None, updated_at=clock.now()
    )


# --- Redis store --------------------------------------------------------------------------------
# One hash per (scope, key): cf = consecutive failures, ws = window start, wf = failures in the
# window, bu = blocked until. Times are integer microseconds since the epoch (exact in Lua's
# doubles), taken from ``clock.now()`` so tests can move time as with the database store.

_FAILURE = """
local k = KEYS[1]
local now, window, maxw = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local free, base, maxd, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local weight = tonumber(ARGV[8])
local ws = tonumber(redis.call('HGET', k, 'ws'))
local wf = tonumber(redis.call('HGET', k, 'wf')) or 0
local cf = tonumber(redis.call('HGET', k, 'cf')) or 0
if (not ws) or now - ws >= window then ws = now; wf = 0 end
wf = wf + weight
cf = cf + weight
local blocked = -1
if wf >= maxw then blocked = ws + window end
if free >= 0 and cf >= free then
  local delay = math.min(base * (2 ^ math.min(cf - free, 30)), maxd)
  if blocked < 0 then blocked = now end
  blocked = math.max(blocked, now + delay)
end
redis.call('HSET', k, 'ws', string.format('%d', ws), 'wf', wf, 'cf', cf)
if blocked >= 0 then
  redis.call('HSET', k, 'bu', string.format('%d', blocked))
else
  redis.call('HDEL', k, 'bu')
end
redis.call('EXPIRE', k, ttl)
if blocked < 0 then return '' end
return string.format('%d', blocked)
"""

# Only an existing counter changes (as the UPDATE … WHERE of the database store).
_SUCCESS = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'cf', 0) end
return ''
"""

_RELEASE = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'cf', 0)
  redis.call('HDEL', KEYS[1], 'bu')
end
return ''
"""

# A counter left alone this long is forgotten: far longer than any window or delay, so it
# decides nothing the database store would decide otherwise, and Redis does not grow forever.
_IDLE_TTL = timedelta(days=30)


def _micros(value: datetime | timedelta) -> int:
    if isinstance(value, timedelta):
        return value // timedelta(microseconds=1)
    return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _from_micros(value: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def _redis_name(policy: Policy, key: str) -> str:
    return redis_key("throttle", policy.scope, _hash(policy.scope, key))


def _redis_run(script: str, policy: Policy, key: str, *args: int) -> str:
    result = redis_client().eval(script, 1, _redis_name(policy, key), *args)
    return result.decode() if isinstance(result, bytes) else str(result or "")


def _redis_failure(policy: Policy, key: str, weight: int) -> datetime | None:
    ttl = max(_IDLE_TTL, policy.window + policy.max_delay)
    raw = _redis_run(
        _FAILURE,
        policy,
        key,
        _micros(clock.now()),
        _micros(policy.window),
        policy.max_failures_per_window,
        -1 if policy.free_failures is None else policy.free_failures,
        _micros(policy.base_delay),
        _micros(policy.max_delay),
        int(ttl.total_seconds()),
        weight,
    )
    return _from_micros(int(raw)) if raw else None
