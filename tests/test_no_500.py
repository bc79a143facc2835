"""Property-based: no input to any form gives a server error."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

text = st.text(max_size=300) | st.sampled_from(
    ["", " ", "\x00", "é" * 5, "<script>alert(1)</script>", "' OR 1=1 --", "a@b", "x" * 5000]
)

FORMS = {
    "/login": ["identifier", "password", "next"],
    "/activation/": ["student_number", "ine"],
    "/activation/confirm": ["code"],
    "/i18n/setlang/": ["language", "next"],
    "/helpdesk/login": ["username", "password"],
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(sorted(FORMS)), values=st.lists(text, min_size=4, max_size=4))
def test_forms_never_500(client: Client, path: str, values: list[str]) -> None:
    data = dict(zip(FORMS[path], values, strict=False))
    data = {k: v.replace("\x00", "") if path == "/i18n/setlang/" else v for k, v in data.items()}
    response = client.post(path, data)
    assert response.status_code < 500, (path, data)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(text, min_size=6, max_size=6), charter=st.booleans())
def test_activation_details_never_500(
    client: Client, make_student: Any, values: list[str], charter: bool
) -> None:
    student = make_student()
    client.post("/activation/", {"student_number": student.student_number, "ine": student.ine})
    data = dict(zip(["email", "password1", "password2", "email_confirmed"], values, strict=False))
    if charter:
        data["charter"] = "on"
    response = client.post("/activation/details/", data)
    assert response.status_code < 500, data


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=text)
def test_get_pages_never_500(client: Client, query: str) -> None:
    for path in ("/activation/confirm", "/login", "/"):
        response = client.get(path, {"code": query, "next": query})
        assert response.status_code < 500


UPDATE_REQUEST_FIELDS = [
    "student_number",
    "ine",
    "kind",
    "message",
    "new_first_name",
    "new_last_name",
    "new_birth_date",
    "new_ine",
    "new_email",
    "contact_email",
]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(text, min_size=10, max_size=10),
    kind=st.sampled_from(["", "name", "lost_email", "birth_date", "ine", "other", "x"]),
)
def test_update_request_never_500(
    client: Client, make_student: Any, values: list[str], kind: str
) -> None:
    """The update-request form, with the right number + INE so every branch is reached."""
    student = make_student()
    data = dict(zip(UPDATE_REQUEST_FIELDS, values, strict=True))
    data.update(student_number=student.student_number, ine=student.ine, kind=kind)
    data["message"] = data["message"] or "m"
    response = client.post("/update-request/", data)
    assert response.status_code < 500, data
