"""The activation mail goes through a real SMTP server and reads like the guide's."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from ent.accounts import activation
from ent.core.codes import CodeStatus
from tests.conftest import GOOD_PASSWORD, SMTPCatcher, html_body, text_body

pytestmark = pytest.mark.django_db


def test_activation_mail_over_smtp(
    client: Client, make_student: Any, smtp_server: SMTPCatcher, settings: Any
) -> None:
    settings.BASE_URL = "https://sesame.univ-perp.fr"
    student = make_student()
    client.post("/activation/", {"student_number": student.student_number, "ine": student.ine})
    response = client.post(
        "/activation/details/",
        {
            "email": "blaise@example.org",
            "password1": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD,
            "charter": "on",
        },
        HTTP_HOST="evil.example.com",  # refused by ALLOWED_HOSTS before any view
    )
    assert response.status_code == 400
    client.post(
        "/activation/details/",
        {
            "email": "blaise@example.org",
            "password1": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD,
            "charter": "on",
        },
    )
    (message,) = smtp_server.wait_for(1)
    assert smtp_server.envelopes[0] == ("noreply@univ-perp.fr", ["blaise@example.org"])
    assert message["From"] == "noreply@univ-perp.fr"
    assert message["To"] == "blaise@example.org"
    assert message["Subject"] == "Activation de votre compte à l'UPVD"
    text = text_body(message)
    assert text.startswith("Bonjour Blaise Pascal")
    assert (
        "En suivant le lien suivant vous finaliserez la procédure d'activation de votre compte"
        in text
    )
    match = re.search(
        r"^(https://sesame\.univ-perp\.fr/activation/confirm\?code=([A-Z0-9]{20}))\r?$", text, re.M
    )
    assert match, text
    assert match.group(1) in html_body(message)
    assert GOOD_PASSWORD not in text and student.ine not in text
    assert activation.activation_confirm(code=match.group(2), ip=None) is CodeStatus.DONE


def test_short_name_and_sender_from_settings(
    client: Client, make_student: Any, smtp_server: SMTPCatcher, settings: Any
) -> None:
    settings.UNIVERSITY_SHORT_NAME = "UM"
    settings.MAIL_FROM = "ne-pas-repondre@umontpellier.fr"
    student = make_student()
    client.post("/activation/", {"student_number": student.student_number, "ine": student.ine})
    client.post(
        "/activation/details/",
        {
            "email": "x@example.org",
            "password1": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD,
            "charter": "on",
        },
    )
    (message,) = smtp_server.wait_for(1)
    assert message["Subject"] == "Activation de votre compte à l'UM"
    assert message["From"] == "ne-pas-repondre@umontpellier.fr"


def test_smtp_down_keeps_the_account_pending_and_resend_works(
    client: Client, make_student: Any, settings: Any, smtp_server: SMTPCatcher
) -> None:
    from tests.conftest import free_port

    good_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # nobody listens: the relay is down
    student = make_student()
    client.post("/activation/", {"student_number": student.student_number, "ine": student.ine})
    response = client.post(
        "/activation/details/",
        {
            "email": "x@example.org",
            "password1": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD,
            "charter": "on",
        },
    )
    assert response.status_code == 302  # no 500: the page offers to resend
    settings.EMAIL_PORT = good_port
    assert client.post("/activation/sent/").status_code == 302
    assert len(smtp_server.wait_for(1)) == 1
