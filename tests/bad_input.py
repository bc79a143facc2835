"""Helpers of the bad-input tests (issue 6): hostile values, and what the database holds.

``stored()`` counts the rows of every table a refused input could have written to, so a test
can say "nothing stored half-way" as ``stored() == before``.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Few examples each: the suite must stay fast, and the fixed samples below carry the known
# troublemakers whatever hypothesis draws.
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NASTY_SAMPLES = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "x\r\nBcc: victime@example.org",
    "x\nSet-Cookie: a=b",
    "\x1b[31mrouge",
    "\u202eevil",  # right-to-left override
    "\u200b",  # zero-width space
    "\ufeff",
    "\x85\u2028\u2029",
    "Ｅｎｔ．Ｐｅｒｐｉｇｎａｎ２０２６",  # full-width confusables
    "раssword",  # Cyrillic "р" and "а"
    "é" * 5000,
    "x" * 70_000,
    "-1",
    "99999999999999999999999999",
    "1e999",
    "NaN",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "=cmd|' /C calc'!A0",
]

# Text hypothesis draws: every Unicode category it can encode (no lone surrogates: the test
# client cannot encode them; raw bytes that would decode to them are sent by ``RAW_BODIES``).
hostile_text = st.text(max_size=400) | st.sampled_from(NASTY_SAMPLES)


# A value a Django form field must refuse whatever it is: a NUL inside, or too long.
def refused_text(max_length: int) -> st.SearchStrategy[str]:
    """A value a ``CharField(max_length=max_length)`` refuses."""
    return st.one_of(
        st.tuples(st.text(max_size=30), st.text(max_size=30)).map(lambda t: f"{t[0]}\x00{t[1]}"),
        st.text(min_size=1, max_size=5)
        .map(lambda t: (t * (max_length + 1))[: max_length + 50])
        .filter(lambda t: len(t.strip()) > max_length),
    )


# Malformed request bodies: (body, content type).
RAW_BODIES: list[tuple[bytes, str]] = [
    (b"a=%ff%fe&b=%ed%a0%80", "application/x-www-form-urlencoded"),  # invalid UTF-8, a surrogate
    (b"\xff\xfe\x00a=b", "application/x-www-form-urlencoded"),
    (b"a=" + b"x" * 3_000_000, "application/x-www-form-urlencoded"),  # over the upload limit
    (b"&".join(b"a=%d" % i for i in range(1500)), "application/x-www-form-urlencoded"),
    (b'{"identifier": "x"}', "application/json"),
    (
        b'--zz\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n',
        "multipart/form-data; boundary=zz",
    ),
    (b"garbage", "multipart/form-data"),
    (b"garbage", "multipart/form-data; boundary="),
    (b"a=b", "application/x-www-form-urlencoded; charset=utf-16"),
    (b"a=b", "application/x-www-form-urlencoded; charset=no-such-charset"),
    (b"a=\xe9", "application/x-www-form-urlencoded; charset=latin-1"),
    (b"<a>&lol;</a>", "text/xml"),
]


def stored() -> dict[str, int]:
    """Rows in every table an entry point writes to, and the mails sent so far."""
    from django.apps import apps
    from django.core import mail

    from ent.core.mail import mail_queue_run

    mail_queue_run()
    names = [
        "accounts.Account",
        "accounts.UpdateRequest",
        "directory.Student",
        "core.OneTimeCode",
        "core.AuditEvent",
        "core.OutboxMail",
        "core.MailDelivery",
        "webmail.PendingForwarding",
        "sso.Service",
        "sso.CasTicket",
        "sso.OidcSession",
        "oauth2_provider.Grant",
        "oauth2_provider.AccessToken",
        "oauth2_provider.RefreshToken",
        "oauth2_provider.IDToken",
    ]
    counts = {name: apps.get_model(name).objects.count() for name in names}
    counts["mails"] = len(getattr(mail, "outbox", []))
    return counts


def field_error(response: Any, field: str) -> str:
    """The error shown for ``field`` (Django 5.2 ties it with ``id_<field>_error`` and
    ``aria-invalid`` on the input); fails the test when there is none."""
    page = response.content.decode()
    match = re.search(
        rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', page, flags=re.DOTALL
    )
    assert match, f"no error tied to {field!r}"
    assert re.search(rf'<[^>]*name="{field}"[^>]*aria-invalid="true"', page) or re.search(
        rf'<[^>]*aria-invalid="true"[^>]*name="{field}"', page
    ), f"{field!r} is not marked invalid"
    text = re.sub(r"<[^>]+>", "", match.group(1)).strip()
    assert text, f"empty error for {field!r}"
    return text
