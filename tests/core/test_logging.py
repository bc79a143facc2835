"""No mailed code in the logs."""

from __future__ import annotations

import logging

import pytest

from ent.core.logging import RedactCodesFilter


def test_codes_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("django.server")
    handler = logging.StreamHandler()
    record = logger.makeRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /activation/confirm?code=N4QWQ6FVIT6451ACN54P HTTP/1.1", 200, 512),
        None,
    )
    assert RedactCodesFilter().filter(record)
    line = handler.format(record)
    assert "N4QWQ6FVIT6451ACN54P" not in line
    assert "/activation/confirm?code=[redacted] HTTP/1.1" in line


def test_configured_on_the_console_handler() -> None:
    from django.conf import settings

    assert "redact_codes" in settings.LOGGING["handlers"]["console"]["filters"]


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("GET /cas/proxy?pgt=PGT-1-abcDEF_123-xyz&targetService=https%3A%2F%2Fa", "PGT-1-abcDEF"),
        ("GET /cas/p3/serviceValidate?service=https%3A%2F%2Fm%2F&ticket=ST-42-QwErTy", "QwErTy"),
        ("GET /cb?pgtIou=PGTIOU-7-secret&pgtId=PGT-7-other", "secret"),
        ("GET /cb?pgtIou=PGTIOU-7-secret&pgtId=PGT-7-other", "PGT-7-other"),
        ("GET /oauth/userinfo/?access_token=AbC.dEf-123", "AbC.dEf"),
        ("GET /oauth/authorize/?id_token_hint=eyJhbGci.eyJzdWIi.sig", "eyJzdWIi"),
        ("GET /oauth/token/?refresh_token=R3fr3sh", "R3fr3sh"),
    ],
)
def test_bearer_secrets_in_a_query_are_redacted(line: str, secret: str) -> None:
    """A proxy-granting ticket is a reusable credential; tickets and tokens must not be kept
    in an access log either."""
    record = logging.makeLogRecord({"msg": "%s", "args": (line,), "levelno": logging.INFO})
    assert RedactCodesFilter().filter(record)
    assert secret not in record.getMessage()
    assert "[redacted]" in record.getMessage()


def test_parameters_that_only_end_like_a_secret_are_kept() -> None:
    record = logging.makeLogRecord({"msg": "GET /x?code_challenge=abc&service_ticket_count=3"})
    assert RedactCodesFilter().filter(record)
    assert record.getMessage() == "GET /x?code_challenge=abc&service_ticket_count=3"
