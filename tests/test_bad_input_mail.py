"""Mail headers and names with line breaks (issue 6): no header injection in any mail, and the
forms refuse a line break where it would reach a mail.

Every mail goes out through a real SMTP server (``smtp_server``) and is parsed there: one
``To``, equal to the envelope recipient, no ``Cc``/``Bcc``, no header value holding a line
break, and the student's name on the greeting line only. Names reach mails from the import
(refused there, see tests/directory/test_import_bad_input.py) and from an approved update
request (refused on the form, checked here).
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import pytest
from django.test import Client

from ent.accounts.models import UpdateRequest
from tests.accounts.selfservice import EMAIL_RE, RESET_RE, code_in, signed_in
from tests.bad_input import field_error, stored
from tests.conftest import GOOD_PASSWORD, SMTPCatcher, text_body

pytestmark = pytest.mark.django_db

# Legal in a name, and each looks like something a header parser could take for a header.
FIRST = "Zoé Bcc: victime@example.org"
LAST = "Ōtomo-Ærøskøbing " + "Ñandú-Łódź " * 11  # long, non-ASCII: the subject/To stay intact
EXPECTED_HEADERS = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "auto-submitted",
}


def check_headers(message: EmailMessage, envelope: tuple[str, list[str]]) -> None:
    """One recipient, the envelope's; nothing but the headers ENT writes."""
    names = {name.lower() for name in message}
    assert names <= EXPECTED_HEADERS, names - EXPECTED_HEADERS
    assert message.get_all("To") is not None and len(message.get_all("To")) == 1
    assert [str(message["To"])] == envelope[1]
    for name, value in message.items():
        assert "\r" not in str(value) and "\n" not in str(value), (name, value)


def test_every_mail_of_a_student_with_a_strange_name(
    make_student: Any, admin_client: Client, smtp_server: SMTPCatcher
) -> None:
    student = make_student(first_name=FIRST, last_name=LAST.strip())
    browser = Client()
    browser.post("/activation/", {"student_number": student.student_number, "ine": student.ine})
    browser.post(
        "/activation/details/",
        {
            "email": "zoe@example.org",
            "email_confirmed": "on",
            "password1": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD,
            "charter": "on",
        },
    )
    activation = smtp_server.wait_for(1)[0]
    code = re.search(r"code=([A-Z0-9]{20})", text_body(activation))
    assert code
    Client().post("/activation/confirm", {"code": code.group(1)})

    Client().post("/password/reset/", {"identifier": student.student_number})
    reset = smtp_server.wait_for(2)[1]
    assert code_in(text_body(reset), RESET_RE)

    signed = signed_in(student)
    signed.post(
        "/account/password/",
        {
            "current_password": GOOD_PASSWORD,
            "password1": "Nouveau.Depart2027",
            "password2": "Nouveau.Depart2027",
        },
    )
    signed = signed_in(student, "Nouveau.Depart2027")
    signed.post(
        "/account/email/",
        {"email": "zoe.nouvelle@example.net", "current_password": "Nouveau.Depart2027"},
    )
    verify = smtp_server.wait_for(4)[3]
    Client().post("/account/email/confirm", {"code": code_in(text_body(verify), EMAIL_RE)})
    signed.post(
        "/update-request/", {"kind": "name", "message": "Mon nom.", "new_last_name": "Otomo"}
    )
    item = UpdateRequest.objects.get()
    admin_client.post(
        f"/helpdesk/requests/{item.pk}/reject", {"reason": "Bcc: x@example.org\r\nSubject: y"}
    )
    admin_client.post(
        "/helpdesk/staff/",
        {"username": "jdupont", "email": "j.dupont@univ-perp.fr", "role": "agent"},
    )

    # Activation, reset, password changed, address to verify, address changed (to the old
    # one), request received, request refused, staff invitation.
    messages = smtp_server.wait_for(8)
    assert len(messages) == 8, [m["Subject"] for m in messages]
    for message, envelope in zip(messages, smtp_server.envelopes, strict=True):
        check_headers(message, envelope)
        body = text_body(message)
        if "Bonjour" in body and "jdupont" not in body:
            greeting = body.splitlines()[0]
            assert greeting.startswith(f"Bonjour {FIRST} Ōtomo"), greeting
    assert not any(
        "victime@example.org" in recipients for _from, recipients in smtp_server.envelopes
    )
    assert not any("x@example.org" in recipients for _from, recipients in smtp_server.envelopes)


BREAKS = [
    "zoe@example.org\r\nBcc: victime@example.org",
    "zoe@example.org\nCc: victime@example.org",
    "zoe@example.org,victime@example.org",
    "Zoé <zoe@example.org>",
    "zoe@example.org\x00",
]


@pytest.mark.parametrize("address", BREAKS)
def test_addresses_with_line_breaks_are_refused(
    address: str,
    make_student: Any,
    active_student: Any,
    smtp_server: SMTPCatcher,
    admin_client: Client,
) -> None:
    """At activation, address change, update request and staff invitation: a field error,
    no row, no mail."""
    before = stored()
    student = make_student()
    before = stored()
    browser = Client()
    browser.post("/activation/", {"student_number": student.student_number, "ine": student.ine})
    after_identify = stored()
    response = browser.post(
        "/activation/details/",
        {
            "email": address,
            "email_confirmed": "on",
            "password1": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD,
            "charter": "on",
        },
    )
    assert field_error(response, "email")
    assert stored() == after_identify

    signed = signed_in(active_student)
    before = stored()
    assert field_error(
        signed.post("/account/email/", {"email": address, "current_password": GOOD_PASSWORD}),
        "email",
    )
    anonymous = {
        "student_number": student.student_number,
        "ine": student.ine,
        "kind": "other",
        "message": "m",
        "contact_email": address,
    }
    assert field_error(Client().post("/update-request/", anonymous), "contact_email")
    lost = {**anonymous, "kind": "lost_email", "new_email": address, "contact_email": ""}
    assert field_error(Client().post("/update-request/", lost), "new_email")
    assert field_error(
        admin_client.post(
            "/helpdesk/staff/", {"username": "jdupont", "email": address, "role": "agent"}
        ),
        "email",
    )
    assert stored() == before
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    "name",
    [
        "Otomo\r\nBcc: victime@example.org",
        "Otomo\nhttps://evil.example/",
        "Oto\x1bmo",
        "\u202eomotO",
        "Oto\u200bmo",
    ],
)
@pytest.mark.parametrize("field", ["new_first_name", "new_last_name"])
def test_name_correction_with_a_line_break_is_refused(
    name: str, field: str, active_student: Any, smtp_server: SMTPCatcher
) -> None:
    """The bug this found: the correction was stored, and on approval copied into the student
    record that greets every mail."""
    signed = signed_in(active_student)
    before = stored()
    response = signed.post("/update-request/", {"kind": "name", "message": "Mon nom.", field: name})
    assert "saut de ligne" in field_error(response, field)
    assert stored() == before
    assert smtp_server.messages == []
