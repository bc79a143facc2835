"""The table of throttled actions: ``blocked``/``failed`` by name, and every figure a setting."""

from __future__ import annotations

from typing import Any

import pytest

from ent.core import throttle
from tests.conftest import page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def cnil(settings: Any) -> None:
    settings.THROTTLE_FREE_FAILURES = 5
    settings.THROTTLE_MAX_FAILURES_PER_DAY = 25
    settings.THROTTLE_IP_FAILURES_PER_HOUR = 10


def test_failed_counts_the_key_and_the_client_address(shared_state: str, cnil: None) -> None:
    for number in range(9):
        assert throttle.failed("password", f"2100000{number}", ip="10.1.1.1") is None
    assert throttle.blocked("password", "21000009") is None
    assert throttle.blocked("password", "21000009", ip="10.1.1.1") is None
    retry = throttle.failed("password", "21000009", ip="10.1.1.1")  # the address's 10th
    assert retry is not None
    assert throttle.blocked("password", "21000009", ip="10.1.1.1") == retry
    assert throttle.blocked("password", "21000009") is None  # the account is not blocked
    assert throttle.blocked("password", "21000009", ip="10.2.2.2") is None


def test_failed_returns_the_latest_retry_time(shared_state: str, cnil: None) -> None:
    for _ in range(4):
        assert throttle.failed("ine", "21000001", ip="10.1.1.1") is None
    retry = throttle.failed("ine", "21000001", ip="10.1.1.1")  # the INE's 5th: a delay
    assert retry is not None
    assert throttle.blocked("ine", "21000001") == retry
    assert throttle.blocked("password", "21000001") is None  # the INE has its own counter


def test_an_action_without_address_ignores_the_ip(shared_state: str, settings: Any) -> None:
    settings.THROTTLE_CODE_FAILURES_PER_HOUR = 5
    for _ in range(4):
        assert throttle.failed("code", "10.1.1.1", ip="10.1.1.1") is None
    assert throttle.failed("code", "10.1.1.1") is not None
    assert throttle.blocked("code", "10.1.1.1") is not None


def test_reset_requests_count_identifier_and_address(shared_state: str, settings: Any) -> None:
    settings.PASSWORD_RESET_PER_HOUR = 3
    settings.PASSWORD_RESET_IP_PER_HOUR = 4
    for name in ("a", "a", "b"):
        assert throttle.failed("reset-identifier", name, ip="10.1.1.1") is None
    assert throttle.failed("reset-identifier", "c", ip="10.1.1.1") is not None  # address: 4
    assert throttle.blocked("reset-identifier", "d", ip="10.1.1.1") is not None
    assert throttle.blocked("reset-identifier", "d") is None


def test_links_have_no_policy_here() -> None:
    with pytest.raises(ValueError):
        throttle.policy("links-password-reset")


def test_the_link_rows_are_the_capped_purposes_of_the_link_table() -> None:
    """The mailed-link caps listed here are the ones ``core/codes.py`` enforces, all of them."""
    from ent.core.codes import LINK_PURPOSES

    listed = {a.settings for a in throttle.ACTIONS.values() if a.name.startswith("links-")}
    enforced = {
        (entry.cap_setting,) for entry in LINK_PURPOSES.values() if entry.cap_setting is not None
    }
    assert listed == enforced


def test_every_figure_is_an_ent_setting() -> None:
    from pathlib import Path

    source = (Path(throttle.__file__).parents[1] / "settings.py").read_text(encoding="utf-8")
    for action in throttle.ACTIONS.values():
        assert action.settings, action.name
        for name in action.settings:
            assert f'{name} = _env_int(\n    "ENT_{name}"' in source or (
                f'{name} = _env_int("ENT_{name}"' in source
            ), name


def test_every_setting_is_in_the_readme_settings_tables() -> None:
    from pathlib import Path

    readme = (Path(throttle.__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `ENT_")]
    for limit in throttle.limits():
        for name in limit.settings:
            assert any(f"`{name}`" in row.split(" | ")[0] for row in rows), name


def test_the_help_desk_settings_page_lists_every_limit(admin_client: Any) -> None:
    page = page_text(admin_client.get("/helpdesk/settings/"))
    for limit in throttle.limits():
        assert str(limit.label) in page and limit.figure in page
        for name in limit.settings:
            assert f"<code>{name}</code>" in page


def test_the_guide_lists_the_limits_students_meet(client: Any, settings: Any) -> None:
    settings.THROTTLE_CODE_FAILURES_PER_HOUR = 42
    page = page_text(client.get("/documentation/"))
    shown = throttle.limits(students=True)
    assert "42 par heure" in page
    for limit in shown:
        assert str(limit.label) in page and limit.figure in page
    staff_only = [a for a in throttle.ACTIONS.values() if a.staff]
    assert staff_only and all(str(a.label) not in page for a in staff_only)
    assert len(shown) == len(throttle.ACTIONS) - len(staff_only)


def test_the_guide_lists_the_limits_in_english(client: Any) -> None:
    page = page_text(client.get("/documentation/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "Limits in force" in page and "Password reset requests (per identifier)" in page
    assert "3 per hour" in page and "5 tries, then a delay doubling from 60 s" in page
