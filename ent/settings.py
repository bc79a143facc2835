"""Django settings for ENT.

Every knob comes from an ``ENT_*`` environment variable and has an embedded default, so
``make run`` works on a fresh machine with nothing configured. A value that cannot be parsed
stops start-up with a message naming the variable (``ImproperlyConfigured``), never a traceback
deep inside a request. The README lists every variable; keep the two in step.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent

_TRUE = {"1", "true", "yes", "on", "oui"}
_FALSE = {"0", "false", "no", "off", "non", ""}


def _env_str(name: str, default: str) -> str:
    return os.environ.get(name, default).strip()


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}: expected a boolean (1/0, true/false), got {raw!r}")


def _env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ImproperlyConfigured(f"{name}: must be {bounds}, got {value}")
    return value


def _env_url(name: str, default: str, schemes: tuple[str, ...]) -> str:
    raw = _env_str(name, default)
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not parts.netloc:
        raise ImproperlyConfigured(
            f"{name}: expected a URL with scheme {' or '.join(schemes)}, got {raw!r}"
        )
    return raw


# --- Deployment mode -------------------------------------------------------------------------

DEMO = _env_bool("ENT_DEMO", False)
# `ent demo` serves two stand-in services (a CAS Moodle, an OIDC timetable) on this port.
DEMO_SERVICES_PORT = _env_int("ENT_DEMO_SERVICES_PORT", 8001, minimum=1, maximum=65535)
DEBUG = _env_bool("ENT_DEBUG", False)
VAR_DIR = Path(_env_str("ENT_VAR_DIR", str(Path.cwd() / "var"))).resolve()

BASE_URL = _env_url("ENT_BASE_URL", "http://127.0.0.1:8000", ("http", "https")).rstrip("/")
_base = urlsplit(BASE_URL)
if _base.path not in ("", "/") or _base.query or _base.fragment:
    raise ImproperlyConfigured(
        f"ENT_BASE_URL: expected scheme://host[:port] with no path, got {BASE_URL!r}"
    )
BASE_URL_SECURE = _base.scheme == "https"

# Links are always built from BASE_URL (never from the Host header); ALLOWED_HOSTS still stops
# requests for other names so the Host header cannot even reach a view.
ALLOWED_HOSTS = [_base.hostname or "127.0.0.1"]
ALLOWED_HOSTS += [h.strip() for h in _env_str("ENT_ALLOWED_HOSTS", "").split(",") if h.strip()]
if DEMO or DEBUG:
    ALLOWED_HOSTS += ["127.0.0.1", "localhost", "[::1]"]


def _env_networks(name: str) -> list[str]:
    items = [i.strip() for i in _env_str(name, "").split(",") if i.strip()]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: expected addresses or networks such as 10.0.0.5,192.0.2.0/24, got {item!r}"
            ) from None
    return items


# Reverse proxies whose X-Forwarded-For is believed (see ent.core.net).
TRUSTED_PROXIES = _env_networks("ENT_TRUSTED_PROXIES")


def _secret_key() -> str:
    key = os.environ.get("ENT_SECRET_KEY", "").strip()
    if key:
        if len(key) < 32:
            raise ImproperlyConfigured("ENT_SECRET_KEY: must be at least 32 characters long")
        return key
    if not (DEMO or DEBUG):
        raise ImproperlyConfigured(
            "ENT_SECRET_KEY: required outside demo mode (set ENT_DEMO=1 for a demo, which keeps"
            " a generated key under var/)"
        )
    # Demo: a generated key kept under var/ so sessions survive a restart.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

# --- University ------------------------------------------------------------------------------

UNIVERSITY_NAME = _env_str("ENT_UNIVERSITY_NAME", "Université de Perpignan Via Domitia")
UNIVERSITY_SHORT_NAME = _env_str("ENT_UNIVERSITY_SHORT_NAME", "UPVD")
STUDENT_MAIL_DOMAIN = _env_str("ENT_STUDENT_MAIL_DOMAIN", "etudiant.univ-perp.fr").lower()
MAIL_FROM = _env_str("ENT_MAIL_FROM", "noreply@univ-perp.fr")
HELPDESK_EMAIL = _env_str("ENT_HELPDESK_EMAIL", "assistance@univ-perp.fr")
CHARTER_VERSION = _env_str("ENT_CHARTER_VERSION", "2024-09")
# Scope of eduPersonPrincipalName (numéro@scope), released to services that may receive it.
EPPN_SCOPE = _env_str("ENT_EPPN_SCOPE", "univ-perp.fr").lower()
if "@" not in MAIL_FROM or "\n" in MAIL_FROM or "\r" in MAIL_FROM:
    raise ImproperlyConfigured(f"ENT_MAIL_FROM: expected an e-mail address, got {MAIL_FROM!r}")
if not STUDENT_MAIL_DOMAIN or "@" in STUDENT_MAIL_DOMAIN or "." not in STUDENT_MAIL_DOMAIN:
    raise ImproperlyConfigured(
        f"ENT_STUDENT_MAIL_DOMAIN: expected a domain name, got {STUDENT_MAIL_DOMAIN!r}"
    )

# --- Password policy (the guide's "Aide mot de passe"; a university may change it) ------------

PASSWORD_MIN_LENGTH = _env_int("ENT_PASSWORD_MIN_LENGTH", 8, minimum=8, maximum=64)
PASSWORD_MAX_LENGTH = _env_int("ENT_PASSWORD_MAX_LENGTH", 128, minimum=16, maximum=1024)
PASSWORD_MIN_CLASSES = _env_int("ENT_PASSWORD_MIN_CLASSES", 3, minimum=1, maximum=4)
PASSWORD_SPECIALS = _env_str("ENT_PASSWORD_SPECIALS", "!.@#+:<>$%")
if not PASSWORD_SPECIALS or any(c.isalnum() or c.isspace() for c in PASSWORD_SPECIALS):
    raise ImproperlyConfigured(
        "ENT_PASSWORD_SPECIALS: expected a non-empty list of punctuation characters,"
        f" got {PASSWORD_SPECIALS!r}"
    )
if PASSWORD_MAX_LENGTH < PASSWORD_MIN_LENGTH:
    raise ImproperlyConfigured("ENT_PASSWORD_MAX_LENGTH: must not be below ENT_PASSWORD_MIN_LENGTH")

# argon2id parameters: OWASP's minimum by default (m = 19 MiB, t = 2, p = 1).
ARGON2_MEMORY_COST = _env_int("ENT_ARGON2_MEMORY_KIB", 19456, minimum=8192)
ARGON2_TIME_COST = _env_int("ENT_ARGON2_TIME_COST", 2, minimum=1)
ARGON2_PARALLELISM = _env_int("ENT_ARGON2_PARALLELISM", 1, minimum=1, maximum=64)
# argon2 computations at once in one process (ent/accounts/hashers.py): one per worker, one
# worker per core.
ARGON2_CONCURRENCY = _env_int("ENT_ARGON2_CONCURRENCY", 1, minimum=1, maximum=64)

# --- Codes and throttling ----------------------------------------------------------------------

ACTIVATION_CODE_HOURS = _env_int("ENT_ACTIVATION_CODE_HOURS", 48, minimum=1, maximum=24 * 30)
ACTIVATION_RESEND_PER_HOUR = _env_int("ENT_ACTIVATION_RESEND_PER_HOUR", 3, minimum=1)

# CNIL délibération 2022-100, case 2: after THROTTLE_FREE_FAILURES consecutive failures a delay
# that doubles from THROTTLE_BASE_DELAY seconds, and at most THROTTLE_MAX_FAILURES_PER_DAY.
THROTTLE_FREE_FAILURES = _env_int("ENT_THROTTLE_FREE_FAILURES", 5, minimum=1, maximum=10)
THROTTLE_BASE_DELAY = _env_int("ENT_THROTTLE_BASE_DELAY", 60, minimum=60)
THROTTLE_MAX_DELAY = _env_int("ENT_THROTTLE_MAX_DELAY", 3600, minimum=60)
THROTTLE_MAX_FAILURES_PER_DAY = _env_int(
    "ENT_THROTTLE_MAX_FAILURES_PER_DAY", 25, minimum=5, maximum=25
)
# Per client address: failures allowed in an hour, whatever the accounts tried.
THROTTLE_IP_FAILURES_PER_HOUR = _env_int("ENT_THROTTLE_IP_FAILURES_PER_HOUR", 100, minimum=10)
# Per client address: unknown mailed codes (links) presented in an hour before it is refused.
THROTTLE_CODE_FAILURES_PER_HOUR = _env_int(
    "ENT_THROTTLE_CODE_FAILURES_PER_HOUR", 50, minimum=5, maximum=1000
)
# OWASP "device cookies": a browser where the student signed in gets a signed cookie (renewed at
# every sign-in) under which its wrong passwords are counted apart from those of untrusted
# clients, so that a stranger's guesses cannot lock the student out of their usual browser.
DEVICE_COOKIE_DAYS = _env_int("ENT_DEVICE_COOKIE_DAYS", 180, minimum=1, maximum=400)
DEVICE_COOKIE_NAME = "ent_device"

# --- Self-service: password reset, address change (selfservice) -------------------------------

# How long a mailed "mot de passe oublié" link works, in minutes.
PASSWORD_RESET_CODE_MINUTES = _env_int(
    "ENT_PASSWORD_RESET_CODE_MINUTES", 60, minimum=5, maximum=24 * 60
)
# Reset requests accepted per hour for one identifier (student number or address) and for one
# client address. A separate count from login failures: asking for a link never locks anyone.
PASSWORD_RESET_PER_HOUR = _env_int("ENT_PASSWORD_RESET_PER_HOUR", 3, minimum=1, maximum=50)
PASSWORD_RESET_IP_PER_HOUR = _env_int("ENT_PASSWORD_RESET_IP_PER_HOUR", 30, minimum=1)
# Reset links mailed to one account in an hour (public form and help desk together).
PASSWORD_RESET_LINKS_PER_HOUR = _env_int(
    "ENT_PASSWORD_RESET_LINKS_PER_HOUR", 5, minimum=1, maximum=50
)
# Links that verify a new personal address, mailed to one account in an hour.
EMAIL_CHANGE_LINKS_PER_HOUR = _env_int("ENT_EMAIL_CHANGE_LINKS_PER_HOUR", 5, minimum=1, maximum=50)
# How long the link that verifies a new personal address works, in hours.
EMAIL_CHANGE_CODE_HOURS = _env_int("ENT_EMAIL_CHANGE_CODE_HOURS", 24, minimum=1, maximum=24 * 7)

# --- Applications ----------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ent.core",
    "ent.directory",
    "ent.accounts",
    "ent.sso",
    "ent.portal",
    # --- Help desk (helpdesk branch): TOTP second factor for staff ---
    "django_otp",
    "django_otp.plugins.otp_totp",
    "ent.helpdesk",
    "ent.webmail",
    "csp",  # django-csp: the Content-Security-Policy header (and its system checks)
    # The mail queue (ent.core.mail): django-tasks and its database backend, no broker.
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    # First: the request id and the access log cover every request, static files included.
    "ent.core.middleware.RequestIdMiddleware",
    # Then: X-Forwarded-Proto is dropped unless a trusted proxy sent it (ENT_TRUSTED_PROXIES).
    "ent.core.security.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "ent.core.security.PermissionsPolicyMiddleware",
    "ent.core.csp.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # help desk: request.user.is_verified()
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ent.urls"
WSGI_APPLICATION = "ent.wsgi.application"
AUTH_USER_MODEL = "accounts.Account"
AUTHENTICATION_BACKENDS = ["ent.accounts.backends.AccountBackend"]
LOGIN_URL = "sso:login"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "ent.core.context_processors.university",
            ],
        },
    }
]

# --- Database --------------------------------------------------------------------------------

_default_db = f"sqlite:///{VAR_DIR / 'ent.sqlite3'}"
_db_url = _env_str("ENT_DATABASE_URL", _default_db)
try:
    _db = dj_database_url.parse(_db_url, conn_max_age=60, conn_health_checks=True)
except Exception as exc:  # dj-database-url raises several types for a bad URL
    raise ImproperlyConfigured(f"ENT_DATABASE_URL: cannot parse {_db_url!r} ({exc})") from None
# Each thread keeps its database connection this many seconds across requests (0: one
# connection per request). On SQLite too: closing the last connection to a WAL database
# checkpoints it, and opening one runs the PRAGMAs below; a connection per request made that
# the largest part of a CAS validation (3 to 4 ms of CPU of about 5.5, make bench-peers).
_db["CONN_MAX_AGE"] = _env_int("ENT_DATABASE_CONN_MAX_AGE", 60, minimum=0, maximum=3600)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process, the importer and a test thread write without
    # "database is locked" errors.
    _db["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    if _db["NAME"] and _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Tests use a file, not shared-cache memory: concurrent tests (two confirmations at once,
    # the browser and the live server) then wait on the busy timeout instead of failing with
    # "database table is locked".
    _db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that needs no round trip (ent.core.postgresql).
    _db["ENGINE"] = "ent.core.postgresql"
else:
    raise ImproperlyConfigured(
        f"ENT_DATABASE_URL: only sqlite:// and postgres:// are supported, got {_db_url!r}"
    )
DATABASES = {"default": _db}

# --- Shared state: Redis, or the database (production, several instances) --------------------

# ``ENT_CACHE_URL=redis://host:6379/0`` puts the shared state of every instance in Redis:
# throttling counters (ent.core.throttle), sessions, Django's cache. Without it the counters
# and sessions stay in the database, which every instance shares too; Django's cache is then
# per process, and nothing another instance needs is ever put in it.
CACHE_URL = _env_str("ENT_CACHE_URL", "")
# Prefix of every Redis key of this deployment (several deployments, or tests, on one Redis).
CACHE_KEY_PREFIX = _env_str("ENT_CACHE_KEY_PREFIX", "ent")
if CACHE_URL:
    _cache = urlsplit(CACHE_URL)
    if _cache.scheme not in ("redis", "rediss", "unix") or not (_cache.netloc or _cache.path):
        raise ImproperlyConfigured(
            f"ENT_CACHE_URL: expected redis://host:port/db or rediss://…, got {CACHE_URL!r}"
        )
    if not CACHE_KEY_PREFIX or any(c.isspace() for c in CACHE_KEY_PREFIX):
        raise ImproperlyConfigured(
            f"ENT_CACHE_KEY_PREFIX: expected a word without spaces, got {CACHE_KEY_PREFIX!r}"
        )
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            # A Redis outage must fail a request quickly (the 503 page), not hang a worker.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    # Sessions in Redis only: ``sessions_end`` deletes them there (ent.accounts.sessions).
    SESSION_ENGINE = "ent.core.session_cache"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    SESSION_ENGINE = "ent.core.session_db"  # Django's, with fewer round trips

# --- Passwords -------------------------------------------------------------------------------

PASSWORD_HASHERS = ["ent.accounts.hashers.ENTArgon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [{"NAME": "ent.accounts.password_policy.PolicyValidator"}]

# --- Mail ------------------------------------------------------------------------------------

SMTP_URL = os.environ.get("ENT_SMTP_URL", "").strip()
DEFAULT_FROM_EMAIL = MAIL_FROM
SERVER_EMAIL = MAIL_FROM
EMAIL_TIMEOUT = 20
if SMTP_URL:
    _smtp = urlsplit(_env_url("ENT_SMTP_URL", "", ("smtp", "smtps", "smtp+starttls")))
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _smtp.hostname or "127.0.0.1"
    try:
        EMAIL_PORT = _smtp.port or (465 if _smtp.scheme == "smtps" else 25)
    except ValueError:
        raise ImproperlyConfigured(f"ENT_SMTP_URL: bad port in {SMTP_URL!r}") from None
    EMAIL_HOST_USER = unquote(_smtp.username or "")
    EMAIL_HOST_PASSWORD = unquote(_smtp.password or "")
    EMAIL_USE_SSL = _smtp.scheme == "smtps"
    EMAIL_USE_TLS = _smtp.scheme == "smtp+starttls"
elif DEMO:
    EMAIL_BACKEND = "ent.core.mail.DemoOutboxBackend"
else:
    raise ImproperlyConfigured(
        "ENT_SMTP_URL: required outside demo mode (e.g. smtp://relay.example.fr:25)"
    )

# --- The mail queue (ent.core.mail, ``ent worker``) ---------------------------------------------

# Every mail is a row of the database queue, written in the transaction that caused it, and sent
# by ``ent worker`` (django-tasks-db). A failed attempt is tried again after a delay that
# doubles from ENT_MAIL_RETRY_BASE_SECONDS up to ENT_MAIL_RETRY_MAX_SECONDS; after
# ENT_MAIL_MAX_ATTEMPTS attempts the mail is "failed" and shown on the help-desk dashboard.
# Defaults: 1, 2, 4, 8, 16, 32, 60, 60, 60 minutes between 10 attempts (about 4 hours).
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["mail"],
    }
}
MAIL_MAX_ATTEMPTS = _env_int("ENT_MAIL_MAX_ATTEMPTS", 10, minimum=1, maximum=100)
MAIL_RETRY_BASE_SECONDS = _env_int("ENT_MAIL_RETRY_BASE_SECONDS", 60, minimum=1, maximum=3600)
MAIL_RETRY_MAX_SECONDS = _env_int("ENT_MAIL_RETRY_MAX_SECONDS", 3600, minimum=1, maximum=86400)
if MAIL_RETRY_MAX_SECONDS < MAIL_RETRY_BASE_SECONDS:
    raise ImproperlyConfigured(
        "ENT_MAIL_RETRY_MAX_SECONDS: must not be below ENT_MAIL_RETRY_BASE_SECONDS"
    )
# A mail marked "sending" for longer than this belongs to a worker that died mid-send: another
# worker sends it again. Keep it well above the time one SMTP conversation can take
# (EMAIL_TIMEOUT per operation), or a slow but living worker would be doubled.
MAIL_SENDING_LEASE_SECONDS = _env_int(
    "ENT_MAIL_SENDING_LEASE_SECONDS", 300, minimum=1, maximum=86400
)

# --- Webmail: mailboxes and the forwarding filter (ent.webmail) -------------------------------

# ``local``: Maildir folders under ENT_MAIL_DIR and the built-in receiver (``ent mail-receiver``).
# ``dovecot``: IMAP with a Dovecot master user, and the filter as a Sieve script (ManageSieve).
MAIL_BACKEND = _env_str("ENT_MAIL_BACKEND", "local").lower()
if MAIL_BACKEND not in ("local", "dovecot"):
    raise ImproperlyConfigured(f"ENT_MAIL_BACKEND: expected local or dovecot, got {MAIL_BACKEND!r}")
MAIL_DIR = Path(_env_str("ENT_MAIL_DIR", str(VAR_DIR / "mail"))).resolve()
# The receiver of the local backend: LMTP (behind the university's MTA) or plain SMTP.
MAIL_RECEIVER_HOST = _env_str("ENT_MAIL_RECEIVER_HOST", "127.0.0.1")
MAIL_RECEIVER_PORT = _env_int("ENT_MAIL_RECEIVER_PORT", 2525, minimum=1, maximum=65535)
MAIL_RECEIVER_PROTOCOL = _env_str("ENT_MAIL_RECEIVER_PROTOCOL", "smtp").lower()
if MAIL_RECEIVER_PROTOCOL not in ("smtp", "lmtp"):
    raise ImproperlyConfigured(
        f"ENT_MAIL_RECEIVER_PROTOCOL: expected smtp or lmtp, got {MAIL_RECEIVER_PROTOCOL!r}"
    )
# Larger messages are refused while they arrive (552): 25 MiB, the usual limit of providers.
MAIL_RECEIVER_MAX_BYTES = _env_int(
    "ENT_MAIL_RECEIVER_MAX_BYTES", 25 * 1024 * 1024, minimum=1024, maximum=1024**3
)
# The dovecot backend: imap://host:port (or imaps://), the master user and a file holding its
# password (never the password itself in the environment), ManageSieve at sieve://host:port.
IMAP_URL = _env_str("ENT_IMAP_URL", "imap://127.0.0.1:143")
IMAP_MASTER_USER = _env_str("ENT_IMAP_MASTER_USER", "")
IMAP_MASTER_PASSWORD_FILE = _env_str("ENT_IMAP_MASTER_PASSWORD_FILE", "")
MANAGESIEVE_URL = _env_str("ENT_MANAGESIEVE_URL", "sieve://127.0.0.1:4190")
# What /documentation/ tells students to type into a mail client (Thunderbird, a phone's mail
# app) that signs in with the ENT password (docs/dovecot/ent-dovecot-ldap.conf.ext): the
# university's public IMAP server (SSL/TLS) and its submission server (STARTTLS).
IMAP_PUBLIC_HOST = _env_str("ENT_IMAP_PUBLIC_HOST", "imap.univ-perp.fr").lower()
IMAP_PUBLIC_PORT = _env_int("ENT_IMAP_PUBLIC_PORT", 993, minimum=1, maximum=65535)
SMTP_SUBMISSION_HOST = _env_str("ENT_SMTP_SUBMISSION_HOST", "smtp.univ-perp.fr").lower()
SMTP_SUBMISSION_PORT = _env_int("ENT_SMTP_SUBMISSION_PORT", 587, minimum=1, maximum=65535)
for _name, _host in (
    ("ENT_IMAP_PUBLIC_HOST", IMAP_PUBLIC_HOST),
    ("ENT_SMTP_SUBMISSION_HOST", SMTP_SUBMISSION_HOST),
):
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", _host):
        raise ImproperlyConfigured(f"{_name}: expected a host name, got {_host!r}")
if MAIL_BACKEND == "dovecot" and not (IMAP_MASTER_USER and IMAP_MASTER_PASSWORD_FILE):
    raise ImproperlyConfigured(
        "ENT_MAIL_BACKEND=dovecot needs ENT_IMAP_MASTER_USER and ENT_IMAP_MASTER_PASSWORD_FILE"
    )
WEBMAIL_PAGE_SIZE = _env_int("ENT_WEBMAIL_PAGE_SIZE", 50, minimum=10, maximum=200)
# Sending from the webmail (ent.webmail.sending): a stolen session must not become a spam
# cannon, so messages and recipients are counted per account and per hour.
WEBMAIL_SEND_PER_HOUR = _env_int("ENT_WEBMAIL_SEND_PER_HOUR", 30, minimum=1)
WEBMAIL_RECIPIENTS_PER_HOUR = _env_int("ENT_WEBMAIL_RECIPIENTS_PER_HOUR", 100, minimum=1)
WEBMAIL_MAX_RECIPIENTS = _env_int("ENT_WEBMAIL_MAX_RECIPIENTS", 50, minimum=1, maximum=500)
WEBMAIL_ATTACHMENTS_MAX_MB = _env_int("ENT_WEBMAIL_ATTACHMENTS_MAX_MB", 10, minimum=1, maximum=50)
FORWARD_VERIFY_HOURS = _env_int("ENT_FORWARD_VERIFY_HOURS", 24, minimum=1, maximum=24 * 7)
# Links that verify a forwarding address, mailed to one account in an hour.
FORWARD_VERIFY_LINKS_PER_HOUR = _env_int(
    "ENT_FORWARD_VERIFY_LINKS_PER_HOUR", 5, minimum=1, maximum=50
)

# --- The university directory: OpenLDAP under SupAnn 2021 (ent.directory.ldap_entry) ----------

# Unset (the embedded default of ``make run``): no directory is written. Set, ENT writes one entry
# per student under LDAP_PEOPLE_DN (``ent worker``). The connection carries the argon2id hashes
# of the passwords and the students' INE and birth dates, so it must not cross a network in clear:
# ldapi:// (a Unix socket), a loopback host, ldaps://, or ldap:// with StartTLS.
LDAP_URL = _env_str("ENT_LDAP_URL", "")
LDAP_STARTTLS = _env_bool("ENT_LDAP_STARTTLS", False)
LDAP_BIND_DN = _env_str("ENT_LDAP_BIND_DN", "")
# A file holding the bind password (never the password itself in the environment), read at
# start-up like ENT_METRICS_TOKEN_FILE: a missing or empty file stops start-up, not a write.
LDAP_BIND_PASSWORD_FILE = _env_str("ENT_LDAP_BIND_PASSWORD_FILE", "")
LDAP_BIND_PASSWORD = ""
LDAP_PEOPLE_DN = _env_str("ENT_LDAP_PEOPLE_DN", "ou=people,dc=univ-perp,dc=fr")
# The RDN of a student's entry, uid=<…>: the student number, or the local part of the
# institutional address (prenom.nom of prenom.nom@etudiant.univ-perp.fr).
LDAP_UID = _env_str("ENT_LDAP_UID", "student_number").lower()
LDAP_UID_CHOICES = ("student_number", "mail_local_part")
_LDAP_SCHEMES = ("ldap", "ldaps", "ldapi")


def _ldap_host_is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback  # 127.0.0.0/8 and ::1
    except ValueError:
        return False


def _ldap_url_check(url: str, starttls: bool) -> None:
    """Refuses an LDAP URL ENT cannot use, or one that would carry the directory in clear."""
    parts = urlsplit(url)
    if parts.scheme not in _LDAP_SCHEMES:
        raise ImproperlyConfigured(
            f"ENT_LDAP_URL: expected a URL with scheme ldap, ldaps or ldapi, got {url!r}"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ImproperlyConfigured(
            f"ENT_LDAP_URL: expected scheme://host[:port] with nothing after it, got {url!r}"
        )
    if parts.scheme != "ldapi":
        try:
            _ = parts.port  # urlsplit checks the port only when it is read
        except ValueError:
            raise ImproperlyConfigured(f"ENT_LDAP_URL: bad port in {url!r}") from None
        if not parts.hostname:
            raise ImproperlyConfigured(f"ENT_LDAP_URL: expected a host name, got {url!r}")
    if starttls and parts.scheme != "ldap":
        raise ImproperlyConfigured(
            f"ENT_LDAP_STARTTLS: StartTLS is for ldap:// only ({parts.scheme}:// is already"
            " TLS or a local socket); set it off"
        )
    if parts.scheme == "ldap" and not starttls and not _ldap_host_is_loopback(parts.hostname or ""):
        raise ImproperlyConfigured(
            f"ENT_LDAP_URL: {url!r} would send password hashes and personal data in clear;"
            " use ldaps://, ldap:// with ENT_LDAP_STARTTLS=on, ldapi:// or a loopback host"
        )


def _ldap_bind_password() -> str:
    """The bind password from ENT_LDAP_BIND_PASSWORD_FILE (its last line break dropped)."""
    try:
        password = Path(LDAP_BIND_PASSWORD_FILE).read_text().rstrip("\r\n")
    except OSError as exc:
        raise ImproperlyConfigured(
            f"ENT_LDAP_BIND_PASSWORD_FILE: cannot read {LDAP_BIND_PASSWORD_FILE} ({exc})"
        ) from None
    if not password:
        raise ImproperlyConfigured(
            f"ENT_LDAP_BIND_PASSWORD_FILE: {LDAP_BIND_PASSWORD_FILE} is empty"
        )
    return password


if LDAP_UID not in LDAP_UID_CHOICES:
    raise ImproperlyConfigured(
        f"ENT_LDAP_UID: expected student_number or mail_local_part, got {LDAP_UID!r}"
    )
if "=" not in LDAP_PEOPLE_DN or LDAP_PEOPLE_DN.startswith(",") or LDAP_PEOPLE_DN.endswith(","):
    raise ImproperlyConfigured(
        f"ENT_LDAP_PEOPLE_DN: expected a DN such as ou=people,dc=univ-perp,dc=fr, got {LDAP_PEOPLE_DN!r}"
    )
if LDAP_URL:
    _ldap_url_check(LDAP_URL, LDAP_STARTTLS)
    if not LDAP_BIND_DN or "=" not in LDAP_BIND_DN:
        raise ImproperlyConfigured(
            "ENT_LDAP_BIND_DN: required with ENT_LDAP_URL (the DN ENT binds as, e.g."
            f" cn=ent,ou=services,dc=univ-perp,dc=fr), got {LDAP_BIND_DN!r}"
        )
    if not LDAP_BIND_PASSWORD_FILE:
        raise ImproperlyConfigured(
            "ENT_LDAP_BIND_PASSWORD_FILE: required with ENT_LDAP_URL (a file holding the"
            " password of ENT_LDAP_BIND_DN)"
        )
    LDAP_BIND_PASSWORD = _ldap_bind_password()

# --- Sessions, cookies, security headers -------------------------------------------------------

SESSION_COOKIE_NAME = "ent_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = BASE_URL_SECURE
SESSION_COOKIE_AGE = _env_int("ENT_SESSION_HOURS", 10, minimum=1, maximum=24 * 14) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_SECURE = BASE_URL_SECURE
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = [BASE_URL]
LANGUAGE_COOKIE_NAME = "ent_language"
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = BASE_URL_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
# Pages reached from a mailed link set their own "no-referrer" (SecurityMiddleware keeps it).
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # with CSP frame-ancestors 'none' below: no page inside a frame
SILENCED_SYSTEM_CHECKS: list[str] = []
if BASE_URL_SECURE:
    SECURE_HSTS_SECONDS = _env_int("ENT_HSTS_SECONDS", 31536000)
    # The ENT's own host name and the names under it (never the university's whole domain).
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_bool("ENT_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = _env_bool("ENT_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading commits every name of the registrable domain to HTTPS in browsers for
        # months (hstspreload.org takes the apex domain only): a decision for the university's
        # domain owners, made with ENT_HSTS_PRELOAD=1, not a default of one application.
        SILENCED_SYSTEM_CHECKS.append("security.W021")
# Redirect plain http to https. On by default with an https ENT_BASE_URL; behind a proxy that
# terminates TLS, list it in ENT_TRUSTED_PROXIES (its X-Forwarded-Proto: https is then
# believed) or set ENT_SSL_REDIRECT=0 when the proxy itself redirects.
SECURE_SSL_REDIRECT = _env_bool("ENT_SSL_REDIRECT", BASE_URL_SECURE)
if BASE_URL_SECURE and not SECURE_SSL_REDIRECT:
    SILENCED_SYSTEM_CHECKS.append("security.W008")  # the operator said the proxy redirects
# Load balancers probe over plain http on the instance's own port.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# X-Forwarded-Proto is believed only from ENT_TRUSTED_PROXIES: Django's setting alone would
# believe anyone, ent.core.security.TrustedProxyMiddleware removes it from everyone else.
if TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy (django-csp 4.0, ent.core.csp.CSPMiddleware) on every response:
# everything from ENT's own origin, no inline script or style, no page in a frame. Templates
# never hold <script> blocks, on…= handlers, style= attributes or javascript: URLs
# (tests/test_templates_csp.py scans them); behaviour lives in ent/static/ent/*.js.
#
# A view that needs something else (the webmail, for instance):
# - one more source: ``@csp_update({"img-src": ["https://…"]})`` (csp.decorators);
# - a directive replaced: ``@csp_replace({"frame-ancestors": [SELF]})``;
# - a policy of its own, e.g. the sanitised message body shown in a sandboxed <iframe> of the
#   reader page, which must be framed by ENT and run nothing:
#       @xframe_options_sameorigin          # django.views.decorators.clickjacking
#       @csp({"default-src": [NONE], "img-src": ["data:"], "style-src": ["'unsafe-inline'"],
#             "frame-ancestors": [SELF], "base-uri": [NONE], "form-action": [NONE],
#             "sandbox": True})
#   (the reader page itself needs nothing: frame-src falls back to default-src 'self');
# - or set ``response["Content-Security-Policy"]`` in the view: a header already present is
#   left alone by the middleware.
# A form whose redirects end on another site (a CAS service, an OIDC redirect_uri) adds the
# origin per response with ent.core.csp.form_action_allow (Chromium checks form-action on
# every redirect after a POST).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    }
}

# --- Languages -------------------------------------------------------------------------------

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = _env_str("ENT_TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
# WhiteNoise serves files straight from the finders when no collectstatic ran (demo, tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
if DEMO:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# --- Logging: never a code or a password in a log line (see ent.core.logging) ------------------

# ``json`` (one object a line, with the request id) for a log collector; ``text`` for a person.
LOG_FORMAT = _env_str("ENT_LOG_FORMAT", "text" if DEMO or DEBUG else "json").lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"ENT_LOG_FORMAT: expected json or text, got {LOG_FORMAT!r}")
LOG_LEVEL = _env_str("ENT_LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(
        f"ENT_LOG_LEVEL: expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}"
    )


def _logging() -> dict[str, Any]:
    from ent.core.logging import logging_config

    return logging_config(LOG_FORMAT, LOG_LEVEL)


LOGGING = _logging()
CSRF_FAILURE_VIEW = "ent.core.errors.csrf_failure"

# --- Help desk and retention (helpdesk branch) -------------------------------------------------

# Staff sign in with a password and a TOTP code (django-otp). The issuer names the entry in the
# authenticator application. django-otp's own per-device delay is switched off: TOTP failures go
# through ent.core.throttle like every other guessable secret (one policy, one place).
OTP_TOTP_ISSUER = f"ENT {UNIVERSITY_SHORT_NAME}"
OTP_TOTP_THROTTLE_FACTOR = 0
# How long the link mailed to a new staff member (to choose their password) stays valid.
STAFF_INVITE_HOURS = _env_int("ENT_STAFF_INVITE_HOURS", 72, minimum=1, maximum=24 * 14)
# ``ent purge``: audit records (and mail failures, decided update requests) older than this.
AUDIT_RETENTION_MONTHS = _env_int("ENT_AUDIT_RETENTION_MONTHS", 12, minimum=1, maximum=120)
# ``ent purge``: never-activated students absent from the imports for this many days.
PURGE_ABSENT_DAYS = _env_int("ENT_PURGE_ABSENT_DAYS", 180, minimum=1)
# --- CAS 3.0 server (ent.sso.cas) ------------------------------------------------------------

# Lifetime of an unvalidated service or proxy ticket (the spec recommends five minutes at most).
CAS_TICKET_SECONDS = _env_int("ENT_CAS_TICKET_SECONDS", 60, minimum=5, maximum=300)
# Proxy callbacks (pgtUrl) must be HTTPS; tests and local demos may allow http://127.0.0.1…
CAS_ALLOW_HTTP_LOOPBACK_CALLBACK = _env_bool("ENT_CAS_ALLOW_HTTP_LOOPBACK_CALLBACK", False)
# Timeout of each back-channel call: proxy callback and single-logout POST.
CAS_HTTP_TIMEOUT_SECONDS = _env_int("ENT_CAS_HTTP_TIMEOUT_SECONDS", 3, minimum=1, maximum=30)
# --- OpenID Connect provider (django-oauth-toolkit; see ent/sso/oidc.py) ----------------------

INSTALLED_APPS += ["oauth2_provider"]
# DOT's swappable Application model, named explicitly: the sso migrations depend on it.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"


def _oidc_private_key() -> str:
    """The RS256 signing key (PEM), from the file named by ENT_OIDC_PRIVATE_KEY.

    Outside demo mode the file is required: a key generated on the fly would change at every
    restart (and differ between instances), and every relying party would reject the ID tokens.
    """
    raw = _env_str("ENT_OIDC_PRIVATE_KEY", "")
    if raw:
        path = Path(raw)
    elif DEMO or DEBUG:
        path = VAR_DIR / "oidc_private_key.pem"
        if not path.exists():
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa

            VAR_DIR.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            # Created 0600 from the start: the key never exists world-readable, even briefly.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    else:
        raise ImproperlyConfigured(
            "ENT_OIDC_PRIVATE_KEY: required outside demo mode (path of the PEM file of the RSA"
            " private key that signs OpenID Connect ID tokens; e.g. openssl genpkey -algorithm"
            " RSA -pkeyopt rsa_keygen_bits:2048)"
        )
    try:
        pem_text = path.read_text()
    except OSError as exc:
        raise ImproperlyConfigured(f"ENT_OIDC_PRIVATE_KEY: cannot read {path} ({exc})") from None
    from cryptography.hazmat.primitives.asymmetric import rsa as _rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        loaded = load_pem_private_key(pem_text.encode(), password=None)
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            f"ENT_OIDC_PRIVATE_KEY: {path} is not an unencrypted PEM private key"
        ) from None
    if not isinstance(loaded, _rsa.RSAPrivateKey) or loaded.key_size < 2048:
        raise ImproperlyConfigured(
            f"ENT_OIDC_PRIVATE_KEY: {path} must hold an RSA key of at least 2048 bits"
        )
    return pem_text


OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": _oidc_private_key(),
    # The issuer comes from ENT_BASE_URL, never from the Host header of a request.
    "OIDC_ISS_ENDPOINT": BASE_URL,
    "OAUTH2_VALIDATOR_CLASS": "ent.sso.oidc.ENTOAuth2Validator",
    "OIDC_SERVER_CLASS": "ent.sso.oidc.ENTServer",
    "OAUTH2_SERVER_CLASS": "ent.sso.oidc.ENTServer",
    "SCOPES": {
        "openid": _("Vous identifier (identifiant opaque)"),
        "profile": _("Votre identifiant, vos prénom et nom"),
        "email": _("Votre adresse électronique institutionnelle"),
        "affiliation": _("Votre statut à l'université (étudiant)"),
    },
    "DEFAULT_SCOPES": ["openid"],
    # Authorization code only: no implicit, no hybrid, no password grant (RFC 9700).
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,  # "plain" refused: S256 only
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # RFC 9700 §4.3.2: an access token never in a URL that logs and Referer headers keep.
    # ENT goes further: the Authorization header only, no form body either
    # (ent.sso.oidc_views.bearer_placement_refusal and ENTOAuth2Validator.validate_bearer_token).
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    # RFC 9207: "iss" in the authorization response (mix-up attacks), see the discovery.
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    # Access and refresh tokens kept as SHA-256 digests only (like the client secrets).
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    # Plain-http redirect URIs (loopback demos and tests) only when ENT itself is not https.
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if BASE_URL_SECURE else ["http", "https"],
    # secrets.token_urlsafe(32): 256 bits in one call instead of oauthlib's 30 draws.
    "ACCESS_TOKEN_GENERATOR": "ent.sso.oidc.token_generate",
    "REFRESH_TOKEN_GENERATOR": "ent.sso.oidc.token_generate",
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "ID_TOKEN_EXPIRE_SECONDS": 3600,
    "REFRESH_TOKEN_EXPIRE_SECONDS": SESSION_COOKIE_AGE,
    # Consent is asked for every untrusted service; trusted ones skip it (Application field).
    "REQUEST_APPROVAL_PROMPT": "force",
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    # An old ID token (copied from a shared computer, a log) must not be a logout key.
    "OIDC_RP_INITIATED_LOGOUT_ACCEPT_EXPIRED_TOKENS": False,
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": True,
}

# --- Operations: metrics, readiness (ent.core.metrics, ent.core.health) ------------------------

# Who may read /metrics: client addresses or networks (through ENT_TRUSTED_PROXIES, so a
# request relayed by the proxy counts as the real client, never as the proxy's loopback).
METRICS_ALLOWED_NETWORKS = _env_networks("ENT_METRICS_ALLOWED_NETWORKS") or [
    "127.0.0.1/32",
    "::1/128",
]
# Optionally also a bearer token, read from a file (never the secret itself in the
# environment): ``Authorization: Bearer <token>``.
METRICS_TOKEN_FILE = _env_str("ENT_METRICS_TOKEN_FILE", "")
METRICS_TOKEN = ""
if METRICS_TOKEN_FILE:
    try:
        METRICS_TOKEN = Path(METRICS_TOKEN_FILE).read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"ENT_METRICS_TOKEN_FILE: cannot read {METRICS_TOKEN_FILE} ({exc})"
        ) from None
    if len(METRICS_TOKEN) < 16:
        raise ImproperlyConfigured(
            "ENT_METRICS_TOKEN_FILE: the token must be 16 characters or more"
        )
