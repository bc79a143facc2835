"""The CAS settings: defaults, values, and a clear error naming the variable."""

from __future__ import annotations

from tests.test_settings import run_settings

ATTRS = (
    "settings.CAS_TICKET_SECONDS, settings.CAS_ALLOW_HTTP_LOOPBACK_CALLBACK,"
    " settings.CAS_HTTP_TIMEOUT_SECONDS"
)


def test_defaults() -> None:
    result = run_settings({"ENT_DEMO": "1"}, ATTRS)
    assert result.stdout.strip() == "(60, False, 3)", result.stderr


def test_values() -> None:
    env = {
        "ENT_DEMO": "1",
        "ENT_CAS_TICKET_SECONDS": "120",
        "ENT_CAS_ALLOW_HTTP_LOOPBACK_CALLBACK": "oui",
        "ENT_CAS_HTTP_TIMEOUT_SECONDS": "5",
    }
    result = run_settings(env, ATTRS)
    assert result.stdout.strip() == "(120, True, 5)", result.stderr


def test_bad_values_name_the_variable() -> None:
    for name, raw in (
        ("ENT_CAS_TICKET_SECONDS", "3600"),
        ("ENT_CAS_TICKET_SECONDS", "soon"),
        ("ENT_CAS_ALLOW_HTTP_LOOPBACK_CALLBACK", "maybe"),
        ("ENT_CAS_HTTP_TIMEOUT_SECONDS", "0"),
    ):
        result = run_settings({"ENT_DEMO": "1", name: raw}, ATTRS)
        assert result.returncode != 0 and name in result.stderr, (name, raw, result.stderr)
