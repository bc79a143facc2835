"""The student guide at ``/documentation/``: one page, one section per question.

Everything that depends on the configuration is generated from it, so the guide never
disagrees with the service: the password rules come from ``password_policy.rules()`` (the
checker reads the same), the sample mails are rendered from the real mail templates, the
durations, the help desk address and the mail servers from the settings, the limits from the table of throttled
actions (``throttle.limits``).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ent.core import throttle
from ent.core.codes import link_url
from ent.core.mail import mail_preview
from ent.core.models import OneTimeCode

from . import password_policy

# The guide's own example (Blaise Pascal and his activation code).
SAMPLE_NAME = "Blaise Pascal"
SAMPLE_CODE = "N4QWQ6FVIT6451ACN54P"


def _sample(template: str, context: dict[str, object]) -> dict[str, str]:
    message = mail_preview(template=template, context=context)
    return {
        "from": message.from_email,
        "subject": str(message.subject),
        "body": str(message.body).strip(),
    }


def documentation(request: HttpRequest) -> HttpResponse:
    """How to activate, password rules, what the mails look like, forwarding, limits, help."""
    return render(request, "accounts/documentation.html", _context())


def _mail_client() -> dict[str, object]:
    """The servers a mail client (Thunderbird, a phone's mail app) needs; it signs in with the
    ENT password through the directory (docs/dovecot/ent-dovecot-ldap.conf.ext)."""
    return {
        "imap_host": settings.IMAP_PUBLIC_HOST,
        "imap_port": settings.IMAP_PUBLIC_PORT,
        "smtp_host": settings.SMTP_SUBMISSION_HOST,
        "smtp_port": settings.SMTP_SUBMISSION_PORT,
    }


def _context() -> dict[str, object]:
    """Everything the guide shows that comes from the configuration."""
    activation_link = link_url(OneTimeCode.Purpose.ACTIVATION, SAMPLE_CODE)
    return {
        "rules": password_policy.rules(),
        "limits": throttle.limits(students=True),
        "code_hours": settings.ACTIVATION_CODE_HOURS,
        "reset_minutes": settings.PASSWORD_RESET_CODE_MINUTES,
        "forward_verify_hours": settings.FORWARD_VERIFY_HOURS,
        "free_failures": settings.THROTTLE_FREE_FAILURES,
        "example_link": activation_link,
        "student_mail_domain": settings.STUDENT_MAIL_DOMAIN,
        "mail_client": _mail_client(),
        "activation_mail": _sample(
            "activation",
            {
                "full_name": SAMPLE_NAME,
                "link": activation_link,
                "hours": settings.ACTIVATION_CODE_HOURS,
            },
        ),
        "reset_mail": _sample(
            "password_reset",
            {
                "full_name": SAMPLE_NAME,
                "username": "21900042",
                "link": link_url(OneTimeCode.Purpose.PASSWORD_RESET, SAMPLE_CODE),
                "minutes": settings.PASSWORD_RESET_CODE_MINUTES,
            },
        ),
    }
