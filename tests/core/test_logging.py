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
