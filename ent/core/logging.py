"""Log hygiene and shape: no mailed code in a log line, one request id on every line.

The activation link carries its code in the query string, and access logs (``runserver``'s
``django.server`` logger, ENT's own ``ent.access`` line, a proxy in front) print request lines
whole. ``RedactCodesFilter`` masks the value of ``code=`` (and of CAS tickets, OAuth tokens and
ID tokens in a query) in every record of the handlers it is attached to.

``RequestIdFilter`` stamps each record with the id of the request being served (set by
``ent.core.middleware.RequestIdMiddleware``), so the lines of one request can be found together
across instances; ``JsonFormatter`` writes one JSON object a line for a log collector.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

# Query parameters that carry a secret or a bearer credential: mailed codes and OAuth codes,
# CAS tickets (a proxy-granting ticket is reusable), OAuth tokens, and the ID token of an
# id_token_hint or a logout token (personal data). Matched as whole parameter names.
_CODE = re.compile(
    r"(?<![A-Za-z0-9_])((?:code|ticket|pgt|pgtIou|pgtId|access_token|refresh_token"
    r"|id_token_hint|logout_token)=)[^&\s\"']+",
    re.IGNORECASE,
)

# The id of the request this thread (or task) is serving; "-" outside a request.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("ent_request_id", default="-")


def redact(text: str) -> str:
    """``text`` with the value of every secret-bearing parameter (``code=``, ``ticket=``…) masked."""
    return _CODE.sub(r"\1[redacted]", text) if "=" in text else text


class RedactCodesFilter(logging.Filter):
    """Replace ``code=XXXX`` (``ticket=``, ``pgt=``…) with ``code=[redacted]`` in the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "=" in message:
            redacted = _CODE.sub(r"\1[redacted]", message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


class RequestIdFilter(logging.Filter):
    """Add ``record.request_id``: the id of the request being served, or ``-``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id.get()
        return True


# Attributes every LogRecord has: anything else was passed with ``extra=`` and is kept.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def logging_config(fmt: str, level: str) -> dict[str, Any]:
    """The ``LOGGING`` dictionary, shared by Django's settings and gunicorn (ent.gunicorn_conf).

    Every handler redacts codes and adds the request id, in JSON or in text.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
            "json": {"()": "ent.core.logging.JsonFormatter"},
        },
        "filters": {
            "redact_codes": {"()": "ent.core.logging.RedactCodesFilter"},
            "request_id": {"()": "ent.core.logging.RequestIdFilter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["redact_codes", "request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # runserver's access log (ent demo) goes through the same redacting handler.
            "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
            # gunicorn's own messages (start, workers, timeouts): the same handler and shape.
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            # ENT writes the access log itself (ent.access, with the request id and duration).
            "gunicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }
