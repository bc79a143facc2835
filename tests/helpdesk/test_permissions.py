"""Permission boundaries, checked over every help-desk URL pattern.

Students never reach the help desk; agents never reach administrator actions; administrators
reach everything. New URLs are covered automatically (the patterns are iterated).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from ent.accounts.models import Account
from ent.helpdesk.urls import urlpatterns

pytestmark = pytest.mark.django_db

# The sign-in steps are open to anyone (they show a form, never help-desk data).
PUBLIC = {"login", "totp", "enrol", "invite"}
ADMIN_ONLY = {
    "staff",
    "staff-member",
    "staff-action",
    "settings",
    # The service registry: it decides what every service receives about students.
    "services",
    "service-new",
    "service",
    "service-secret",
    "service-delete",
    "service-action",
}


def url_of(pattern: URLPattern, **values: Any) -> str:
    kwargs = {name: values.get(name, 1) for name in pattern.pattern.converters}
    if "action" in kwargs:
        kwargs["action"] = values.get("action", "lock")
    return reverse(f"helpdesk:{pattern.name}", kwargs=kwargs)


def protected() -> list[URLPattern]:
    return [p for p in urlpatterns if isinstance(p, URLPattern) and p.name not in PUBLIC]


def test_every_pattern_is_classified() -> None:
    names = {p.name for p in urlpatterns}
    assert names >= PUBLIC and names >= ADMIN_ONLY
    assert len(protected()) >= 10


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_sign_in(client: Client, method: str) -> None:
    for pattern in protected():
        response = getattr(client, method)(url_of(pattern))
        if response.status_code == 405:
            continue  # a POST-only action asked with GET: refused before anything else
        assert response.status_code == 302, pattern.name
        assert response["Location"] == "/helpdesk/login", pattern.name


@pytest.mark.parametrize("method", ["get", "post"])
def test_student_is_refused_everywhere(
    client: Client, make_active_student: Any, method: str
) -> None:
    student = make_active_student()
    client.force_login(Account.objects.get(student=student))
    for pattern in protected():
        response = getattr(client, method)(url_of(pattern))
        assert response.status_code in (403, 405), (pattern.name, response.status_code)
    # The public sign-in pages show no help-desk data to a student either.
    assert client.get("/helpdesk/login/code")["Location"] == "/helpdesk/login"
    assert client.get("/helpdesk/login/enrol")["Location"] == "/helpdesk/login"


def test_agent_is_refused_administrator_pages(agent_client: Client, make_staff: Any) -> None:
    other = make_staff("agent")
    for pattern in protected():
        if pattern.name not in ADMIN_ONLY:
            continue
        for method in ("get", "post"):
            response = getattr(agent_client, method)(url_of(pattern, pk=other.pk, action="role"))
            assert response.status_code in (403, 405), (pattern.name, method)
    for action in ("role", "deactivate", "reset-totp", "resend-invite"):
        response = agent_client.post(
            f"/helpdesk/staff/{other.pk}/{action}", {"role": "administrator"}
        )
        assert response.status_code == 403, action
    other.refresh_from_db()
    assert other.is_active and set(other.groups.values_list("name", flat=True)) == {"agent"}


def test_agent_cannot_disable_a_student(agent_client: Client, make_active_student: Any) -> None:
    student = make_active_student()
    response = agent_client.post(f"/helpdesk/students/{student.pk}/disable")
    assert response.status_code == 403
    assert Account.objects.get(student=student).state == Account.State.ACTIVE
    page = agent_client.get(f"/helpdesk/students/{student.pk}/").content.decode()
    assert "/disable" not in page  # and the button is not offered


def test_agent_reaches_agent_pages(agent_client: Client) -> None:
    for path in ("/helpdesk/", "/helpdesk/search?q=x", "/helpdesk/requests/"):
        response = agent_client.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response["Cache-Control"], path  # personal data: never cached
    page = agent_client.get("/helpdesk/").content.decode()
    assert "/helpdesk/staff/" not in page and "/helpdesk/settings/" not in page


def test_administrator_reaches_everything(admin_client: Client, make_staff: Any) -> None:
    other = make_staff("agent")
    for path in (
        "/helpdesk/",
        "/helpdesk/staff/",
        f"/helpdesk/staff/{other.pk}/",
        "/helpdesk/settings/",
    ):
        assert admin_client.get(path).status_code == 200, path


def test_superuser_is_administrator(client: Client, make_staff: Any) -> None:
    from django.contrib.auth.models import Group
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.conftest import STAFF_PASSWORD, staff_sign_in

    root = Account.objects.create_superuser("root", STAFF_PASSWORD)
    assert not root.groups.exists() and Group.objects.filter(name="administrator").exists()
    TOTPDevice.objects.create(user=root, name="ENT", confirmed=True)
    staff_sign_in(client, root)
    assert client.get("/helpdesk/settings/").status_code == 200
