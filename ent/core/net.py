"""The client address of a request.

Behind a reverse proxy every request comes from the proxy's address: per-address throttling
would then lock the whole university out after a few students mistype. ``ENT_TRUSTED_PROXIES``
lists the proxies (addresses or networks); only when the request comes from one of them is
``X-Forwarded-For`` read, from the right, skipping the trusted hops, so a client cannot choose
its own address by sending the header itself.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def _parse(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(raw.strip())
    except ValueError:
        return None


def is_trusted_proxy(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``address`` is one of ``ENT_TRUSTED_PROXIES`` (its headers are believed)."""
    return any(address in net for net in _trusted(tuple(settings.TRUSTED_PROXIES)))


def request_from_trusted_proxy(request: HttpRequest) -> bool:
    """Whether the request comes straight from one of ``ENT_TRUSTED_PROXIES``."""
    remote = _parse(request.META.get("REMOTE_ADDR", ""))
    return remote is not None and is_trusted_proxy(remote)


def client_ip(request: HttpRequest) -> str | None:
    """The address of the client: REMOTE_ADDR, or the first untrusted X-Forwarded-For hop.

    Remembered on the request (the access log, the view and the audit record each ask) for
    as long as the headers and ``ENT_TRUSTED_PROXIES`` it was read from stay the same.
    """
    key = (
        request.META.get("REMOTE_ADDR", ""),
        request.META.get("HTTP_X_FORWARDED_FOR", ""),
        tuple(settings.TRUSTED_PROXIES),
    )
    known = getattr(request, "_ent_client_ip", None)
    if known is not None and known[0] == key:
        return known[1]  # type: ignore[no-any-return]
    found = _client_ip(request, key[2])
    request._ent_client_ip = (key, found)  # type: ignore[attr-defined]
    return found


def _client_ip(request: HttpRequest, proxies: tuple[str, ...]) -> str | None:
    remote = _parse(request.META.get("REMOTE_ADDR", ""))
    trusted = _trusted(proxies)
    if remote is None or not any(remote in net for net in trusted):
        return str(remote) if remote is not None else None
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            return str(remote)  # a malformed chain: fall back to what we know
        if not any(address in net for net in trusted):
            return str(address)
    return str(remote)
