"""Log hygiene: a mailed code must never reach a log file.

The activation link carries its code in the query string, and access logs (``runserver``'s
``django.server`` logger, a proxy in front) print request lines whole. This filter masks the
value of ``code=`` in every record of the handlers it is attached to.
"""

from __future__ import annotations

import logging
import re

_CODE = re.compile(r"(code=)[A-Za-z0-9%]+", re.IGNORECASE)


class RedactCodesFilter(logging.Filter):
    """Replace ``code=XXXX`` with ``code=[redacted]`` in the rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "code=" in message.lower():
            record.msg = _CODE.sub(r"\1[redacted]", message)
            record.args = None
        return True
