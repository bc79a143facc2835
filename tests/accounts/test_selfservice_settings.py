"""The self-service settings: defaults and clear errors naming the variable."""

from __future__ import annotations

import pytest

from tests.test_settings import run_settings

ATTRS = (
    "settings.PASSWORD_RESET_CODE_MINUTES, settings.PASSWORD_RESET_PER_HOUR,"
    " settings.PASSWORD_RESET_IP_PER_HOUR, settings.EMAIL_CHANGE_CODE_HOURS"
)


def test_defaults_and_overrides() -> None:
    result = run_settings({"ENT_DEMO": "1"}, ATTRS)
    assert result.stdout.strip() == "(60, 3, 30, 24)", result.stderr
    result = run_settings(
        {
            "ENT_DEMO": "1",
            "ENT_PASSWORD_RESET_CODE_MINUTES": "15",
            "ENT_PASSWORD_RESET_PER_HOUR": "5",
            "ENT_PASSWORD_RESET_IP_PER_HOUR": "100",
            "ENT_EMAIL_CHANGE_CODE_HOURS": "48",
        },
        ATTRS,
    )
    assert result.stdout.strip() == "(15, 5, 100, 48)", result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ENT_PASSWORD_RESET_CODE_MINUTES", "0"),
        ("ENT_PASSWORD_RESET_CODE_MINUTES", "une heure"),
        ("ENT_PASSWORD_RESET_PER_HOUR", "0"),
        ("ENT_PASSWORD_RESET_IP_PER_HOUR", "-1"),
        ("ENT_EMAIL_CHANGE_CODE_HOURS", "1000"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    result = run_settings({"ENT_DEMO": "1", name: value}, ATTRS)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name}:" in result.stderr, result.stderr
