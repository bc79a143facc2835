"""Bad input at every form of the service (issue 6): never a 500, an error tied to the field,
in French, and nothing stored half-way.

tests/test_no_500.py and tests/accounts/test_selfservice_no_500.py only ask "no 500" of random
values. Here each example makes one field certainly invalid (a NUL inside, longer than the
field allows, or missing), fills the others with hostile text, sends it as multipart or
urlencoded, sometimes repeated; then the page must name that field's error and no table may
have gained or lost a row, no mail may have left.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from ent.accounts import update_request as ur
from ent.accounts.models import UpdateRequest
from tests.accounts.selfservice import RESET_RE, code_in, outbox, signed_in
from tests.bad_input import (
    RAW_BODIES,
    SETTINGS,
    field_error,
    hostile_text,
    refused_text,
    stored,
)
from tests.conftest import STAFF_PASSWORD, page_text

pytestmark = pytest.mark.django_db

MISSING = object()


@dataclass
class Form:
    """A POST form: where it is, what a good submission holds, the fields to break."""

    path: str
    good: dict[str, str]
    # field -> max_length; a field in ``required`` may also be left out.
    targets: dict[str, int]
    required: set[str] = field(default_factory=set)


def _activation_details(client: Client, make_student: Any, **_: Any) -> Form:
    student = make_student()
    client.post("/activation/", {"student_number": student.student_number, "ine": student.ine})
    return Form(
        "/activation/details/",
        {
            "email": "nouvelle@example.org",
            "email_confirmed": "on",
            "password1": "Ent.Perpignan2026",
            "password2": "Ent.Perpignan2026",
            "charter": "on",
        },
        {"email": 254, "password1": 4096, "password2": 4096},
        {"email", "password1", "password2"},
    )


def _reset_confirm(client: Client, active_student: Any, **_: Any) -> Form:
    client.post("/password/reset/", {"identifier": active_student.student_number})
    code = code_in(outbox()[-1].body, RESET_RE)
    client.get("/password/reset/confirm", {"code": code})
    return Form(
        "/password/reset/confirm",
        {"password1": "Nouveau.Depart2027", "password2": "Nouveau.Depart2027"},
        {"password1": 4096, "password2": 4096},
        {"password1", "password2"},
    )


def _account_password(client: Client, active_student: Any, **_: Any) -> Form:
    client.cookies = signed_in(active_student).cookies
    return Form(
        "/account/password/",
        {
            "current_password": "Ent.Perpignan2026",
            "password1": "Nouveau.Depart2027",
            "password2": "Nouveau.Depart2027",
        },
        {"current_password": 4096, "password1": 4096, "password2": 4096},
        {"current_password", "password1", "password2"},
    )


def _account_email(client: Client, active_student: Any, **_: Any) -> Form:
    client.cookies = signed_in(active_student).cookies
    return Form(
        "/account/email/",
        {"email": "autre@example.org", "current_password": "Ent.Perpignan2026"},
        {"email": 254, "current_password": 4096},
        {"email", "current_password"},
    )


_UPDATE = {
    "kind": "name",
    "message": "Mon prénom est mal écrit.",
    "new_first_name": "Émilie",
    "new_last_name": "Du Châtelet",
    "contact_email": "contact@example.org",
}
_UPDATE_TARGETS = {
    "message": 2000,
    "new_first_name": 150,
    "new_last_name": 150,
    "contact_email": 254,
    "new_email": 254,
}


def _update_anonymous(client: Client, make_student: Any, **_: Any) -> Form:
    student = make_student()
    return Form(
        "/update-request/",
        {**_UPDATE, "student_number": student.student_number, "ine": student.ine},
        {**_UPDATE_TARGETS, "student_number": 64, "ine": 64},
        {"student_number", "ine", "message", "kind"},
    )


def _update_signed_in(client: Client, active_student: Any, **_: Any) -> Form:
    client.cookies = signed_in(active_student).cookies
    # A student with a verified address is not asked where to be answered: no contact field.
    good = {k: v for k, v in _UPDATE.items() if k != "contact_email"}
    targets = {k: v for k, v in _UPDATE_TARGETS.items() if k != "contact_email"}
    return Form("/update-request/", good, targets, {"message", "kind"})


def _helpdesk_code(client: Client, make_staff: Any, **_: Any) -> Form:
    staff = make_staff("agent")
    client.post("/helpdesk/login", {"username": staff.username, "password": STAFF_PASSWORD})
    return Form("/helpdesk/login/code", {"code": "123456"}, {"code": 16}, {"code"})


def _staff_invite(client: Client, admin_client: Any, **_: Any) -> Form:
    client.cookies = admin_client.cookies
    return Form(
        "/helpdesk/staff/",
        {"username": "jdupont", "email": "j.dupont@univ-perp.fr", "role": "agent"},
        {"username": 150, "email": 254},
        {"username", "email", "role"},
    )


def _service_new(client: Client, admin_client: Any, **_: Any) -> Form:
    client.cookies = admin_client.cookies
    return Form(
        "/helpdesk/services/new",
        {
            "name": "Moodle",
            "slug": "moodle",
            "home_url": "https://moodle.univ-perp.fr/",
            "show_on_portal": "on",
            "order": "10",
            "protocol": "cas",
            "cas_service_pattern": r"https://moodle\.univ-perp\.fr/.*",
        },
        {"name": 100, "slug": 50, "home_url": 200},
        {"name", "slug", "home_url", "order", "protocol"},
    )


def _decision(client: Client, admin_client: Any, make_student: Any, **_: Any) -> Form:
    client.cookies = admin_client.cookies
    item = ur.update_request_create(
        student=make_student(),
        kind=UpdateRequest.Kind.NAME,
        message="Merci.",
        new=ur.NewValues(first_name="Émilie"),
        contact_email="contact@example.org",
        ip=None,
    )
    return Form(
        f"/helpdesk/requests/{item.pk}/reject", {"reason": "Pièce manquante."}, {"reason": 1000}
    )


SIMPLE = {
    "login": Form(
        "/login",
        {"identifier": "21000001", "password": "x"},
        {"identifier": 254, "password": 4096},
        {"identifier", "password"},
    ),
    "activation-identify": Form(
        "/activation/",
        {"student_number": "21000001", "ine": "123456789AB"},
        {"student_number": 64, "ine": 64},
        {"student_number", "ine"},
    ),
    "reset-request": Form(
        "/password/reset/", {"identifier": "21000001"}, {"identifier": 254}, {"identifier"}
    ),
    "helpdesk-login": Form(
        "/helpdesk/login",
        {"username": "agent", "password": "x"},
        {"username": 150, "password": 4096},
        {"username", "password"},
    ),
}


def _anonymous(form: Form) -> Callable[..., Form]:
    """A form an anonymous browser fills with nothing before."""

    def setup(client: Client, **_: Any) -> Form:
        return form

    return setup


SETUPS: dict[str, Callable[..., Form]] = {
    **{name: _anonymous(form) for name, form in SIMPLE.items()},
    "activation-details": _activation_details,
    "reset-confirm": _reset_confirm,
    "password-change": _account_password,
    "email-change": _account_email,
    "update-request-anonymous": _update_anonymous,
    "update-request-signed-in": _update_signed_in,
    "helpdesk-totp": _helpdesk_code,
    "helpdesk-staff-invite": _staff_invite,
    "helpdesk-service-new": _service_new,
    "helpdesk-request-decision": _decision,
}


@pytest.fixture
def form_under_test(request: pytest.FixtureRequest) -> tuple[Client, Form]:
    """A browser in the state the form needs (signed in, past step 1…), and the form."""
    setup = SETUPS[request.param]
    names = setup.__code__.co_varnames[: setup.__code__.co_argcount]
    client = Client()
    fixtures = {n: request.getfixturevalue(n) for n in names if n != "client"}
    return client, setup(client, **fixtures)


def _post(client: Client, path: str, data: dict[str, Any], urlencoded: bool) -> Any:
    if urlencoded:
        return client.post(
            path, urlencode(data, doseq=True), content_type="application/x-www-form-urlencoded"
        )
    return client.post(path, data)


@pytest.mark.parametrize("form_under_test", sorted(SETUPS), indirect=True)
@SETTINGS
@given(data=st.data(), urlencoded=st.booleans(), repeated=st.booleans())
def test_refused_field_is_named_and_nothing_is_stored(
    form_under_test: tuple[Client, Form], data: Any, urlencoded: bool, repeated: bool
) -> None:
    client, form = form_under_test
    target = data.draw(st.sampled_from(sorted(form.targets)), label="field")
    bad_values = refused_text(form.targets[target])
    if target in form.required:
        bad_values = bad_values | st.just(MISSING)  # type: ignore[operator]
    bad = data.draw(bad_values, label="bad value")
    values: dict[str, Any] = dict(form.good)
    for name in data.draw(st.sets(st.sampled_from(sorted(form.good))), label="hostile fields"):
        if name != target and name not in ("kind", "protocol", "role", "email_confirmed"):
            values[name] = data.draw(hostile_text, label=name)
    if bad is MISSING:
        values.pop(target, None)
    elif repeated:
        values[target] = [
            data.draw(hostile_text, label="first of two"),
            bad,
        ]  # Django keeps the last
    else:
        values[target] = bad
    before = stored()
    response = _post(client, form.path, values, urlencoded)
    assert response.status_code in (200, 400), (response.status_code, values)
    message = field_error(response, target)
    assert "Le formulaire contient des erreurs" in page_text(response)
    assert re.search(r"[a-zà-ÿ]{3}", message) and "This field" not in message, message
    assert stored() == before, values


@pytest.mark.parametrize("form_under_test", sorted(SETUPS), indirect=True)
@pytest.mark.parametrize(("body", "content_type"), RAW_BODIES, ids=range(len(RAW_BODIES)))
def test_malformed_bodies(
    form_under_test: tuple[Client, Form], body: bytes, content_type: str
) -> None:
    """Bodies a browser never sends (invalid UTF-8, a charset Python does not know, a broken
    multipart, JSON, 3 MB, 1,500 fields): a page in French, never a 500, nothing written."""
    client, form = form_under_test
    before = stored()
    response = client.generic("POST", form.path, body, content_type=content_type)
    assert response.status_code < 500, response.status_code
    if response.status_code == 400:
        assert 'lang="fr"' in response.content.decode()
    assert stored() == before


def test_reason_refused_means_no_decision(admin_client: Client, make_student: Any) -> None:
    """The bug this found: a refused reason (NUL, over 1,000 characters) became no reason,
    and the request was approved without the text the agent had typed."""
    item = ur.update_request_create(
        student=make_student(),
        kind=UpdateRequest.Kind.NAME,
        message="Merci.",
        new=ur.NewValues(first_name="Émilie"),
        contact_email="contact@example.org",
        ip=None,
    )
    sent = len(mail.outbox)
    for reason in ("Vu\x00", "x" * 1001):
        response = admin_client.post(f"/helpdesk/requests/{item.pk}/approve", {"reason": reason})
        assert response.status_code == 400
        assert field_error(response, "reason")
    item.refresh_from_db()
    assert item.status == UpdateRequest.Status.NEW
    assert item.student.first_name == "Blaise"
    assert len(mail.outbox) == sent


@pytest.mark.parametrize(
    "pattern",
    [
        r"https://moodle\.univ-perp\.fr/a{99999999999}",  # OverflowError in re
        r"https://moodle\.univ-perp\.fr/(?u)x",  # ValueError: (?u) against re.ASCII
        "(",
    ],
)
def test_service_pattern_that_re_cannot_compile(admin_client: Client, pattern: str) -> None:
    """The bug this found: a repetition count too large for ``re`` was a 500 in the model
    validator (the registry's own check caught it, but ran after)."""
    before = stored()
    response = admin_client.post(
        "/helpdesk/services/new",
        {
            "name": "Moodle",
            "slug": "moodle",
            "home_url": "https://moodle.univ-perp.fr/",
            "order": "10",
            "protocol": "cas",
            "cas_service_pattern": pattern,
        },
    )
    assert response.status_code == 200
    assert "Expression régulière invalide" in field_error(response, "cas_service_pattern")
    assert stored() == before
