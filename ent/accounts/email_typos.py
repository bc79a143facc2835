""" "Did you mean …?" for personal addresses typed on a phone.

The guide warns students to check their address for typing mistakes before validating; the
commonest mistakes are in the domain (``gmial.com``, ``hotmial.fr``). Written here because the
known libraries for it are JavaScript (mailcheck); difflib does the fuzzy matching.
"""

from __future__ import annotations

import difflib

COMMON_DOMAINS = (
    "gmail.com",
    "hotmail.fr",
    "hotmail.com",
    "outlook.fr",
    "outlook.com",
    "live.fr",
    "live.com",
    "yahoo.fr",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "orange.fr",
    "wanadoo.fr",
    "free.fr",
    "sfr.fr",
    "laposte.net",
    "neuf.fr",
    "bbox.fr",
    "protonmail.com",
    "proton.me",
    "gmx.fr",
    "msn.com",
    "aol.com",
)
# Known wrong spellings that difflib ranks badly.
_KNOWN = {
    "gmail.fr": "gmail.com",
    "gmai.com": "gmail.com",
    "gamil.com": "gmail.com",
    "hotmail.ft": "hotmail.fr",
    "yahoo.ft": "yahoo.fr",
    "gmail.co": "gmail.com",
}


def suggest(address: str) -> str | None:
    """A corrected address when the domain looks like a typo of a common one, else None."""
    local, sep, domain = address.strip().rpartition("@")
    if not sep or not local:
        return None
    domain = domain.lower()
    if domain in COMMON_DOMAINS:
        return None
    if domain in _KNOWN:
        return f"{local}@{_KNOWN[domain]}"
    match = difflib.get_close_matches(domain, COMMON_DOMAINS, n=1, cutoff=0.8)
    return f"{local}@{match[0]}" if match else None
