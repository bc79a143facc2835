"""Property-based: no input to a self-service form or link gives a server error."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.accounts.selfservice import signed_in

pytestmark = pytest.mark.django_db

text = st.text(max_size=300) | st.sampled_from(
    ["", " ", "\x00", "é" * 5, "<script>alert(1)</script>", "' OR 1=1 --", "a@b", "x" * 5000]
)
PUBLIC = {
    "/password/reset/": ["identifier"],
    "/password/reset/confirm": ["code", "password1", "password2"],
    "/account/email/confirm": ["code"],
}
SIGNED_IN = {
    "/account/password/": ["current_password", "password1", "password2"],
    "/account/email/": ["email", "current_password"],
}
HYPOTHESIS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@HYPOTHESIS
@given(path=st.sampled_from(sorted(PUBLIC)), values=st.lists(text, min_size=3, max_size=3))
def test_public_forms_never_500(client: Client, path: str, values: list[str]) -> None:
    data = dict(zip(PUBLIC[path], values, strict=False))
    assert client.post(path, data).status_code < 500, (path, data)


@HYPOTHESIS
@given(query=text)
def test_links_never_500(client: Client, query: str) -> None:
    for path in ("/password/reset/confirm", "/account/email/confirm"):
        response = client.get(path, {"code": query}, follow=True)
        assert response.status_code < 500


@pytest.fixture
def student_client(active_student: Any) -> Client:
    return signed_in(active_student)


@HYPOTHESIS
@given(path=st.sampled_from(sorted(SIGNED_IN)), values=st.lists(text, min_size=3, max_size=3))
def test_signed_in_forms_never_500(student_client: Client, path: str, values: list[str]) -> None:
    data = dict(zip(SIGNED_IN[path], values, strict=False))
    assert student_client.post(path, data).status_code < 500, (path, data)
