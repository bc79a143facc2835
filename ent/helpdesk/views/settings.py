"""The effective settings, read-only (administrators)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ent.core import throttle

from ..roles import Role, staff_required

# Never shown, whatever their value: secrets and credentials.
HIDDEN_SETTINGS = {"SECRET_KEY", "EMAIL_HOST_PASSWORD", "DATABASES", "SMTP_URL"}
SHOWN_SETTINGS = [
    "BASE_URL",
    "DEMO",
    "DEBUG",
    "UNIVERSITY_NAME",
    "UNIVERSITY_SHORT_NAME",
    "STUDENT_MAIL_DOMAIN",
    "MAIL_FROM",
    "MAIL_MAX_ATTEMPTS",
    "MAIL_RETRY_BASE_SECONDS",
    "MAIL_RETRY_MAX_SECONDS",
    "MAIL_SENDING_LEASE_SECONDS",
    "HELPDESK_EMAIL",
    "CHARTER_VERSION",
    "EPPN_SCOPE",
    "PASSWORD_MIN_LENGTH",
    "PASSWORD_MAX_LENGTH",
    "PASSWORD_MIN_CLASSES",
    "PASSWORD_SPECIALS",
    "ARGON2_MEMORY_COST",
    "ARGON2_TIME_COST",
    "ARGON2_PARALLELISM",
    "ACTIVATION_CODE_HOURS",
    "ACTIVATION_RESEND_PER_HOUR",
    "THROTTLE_FREE_FAILURES",
    "THROTTLE_BASE_DELAY",
    "THROTTLE_MAX_DELAY",
    "THROTTLE_MAX_FAILURES_PER_DAY",
    "THROTTLE_IP_FAILURES_PER_HOUR",
    "TRUSTED_PROXIES",
    "ALLOWED_HOSTS",
    "SESSION_COOKIE_AGE",
    "TIME_ZONE",
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "STAFF_INVITE_HOURS",
    "AUDIT_RETENTION_MONTHS",
    "PURGE_ABSENT_DAYS",
    "PASSWORD_RESET_CODE_MINUTES",
    "PASSWORD_RESET_PER_HOUR",
    "EMAIL_CHANGE_CODE_HOURS",
]


@staff_required(Role.ADMINISTRATOR)
def settings_page(request: HttpRequest) -> HttpResponse:
    """The effective settings, read-only (never a secret key, a password or a private key)."""
    rows = []
    for name in SHOWN_SETTINGS:
        if name in HIDDEN_SETTINGS or not hasattr(settings, name):
            continue
        rows.append((name, getattr(settings, name)))
    db = settings.DATABASES["default"]
    rows.append(("DATABASE_ENGINE", db["ENGINE"].rsplit(".", 1)[-1]))
    context = {"rows": rows, "nav": "settings", "limits": throttle.limits()}
    return render(request, "helpdesk/settings.html", context)
