"""What the benchmarks hand to the server before timing it: CAS service tickets and OIDC
authorization codes, made the way ENT's own endpoints make them (imported by ``run.py``,
``cas_validate.py`` and ``oidc_token_exchange.py``, which run with ``bench/`` on their path).
Call after ``django.setup()``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any


def cas_tickets(
    account: Any, service: Any, service_url: str, count: int, ip: str | None = None
) -> list[str]:
    """``count`` fresh service tickets, issued as /cas/login issues them, in one transaction."""
    from django.db import transaction

    from ent.core import clock
    from ent.sso import cas

    with transaction.atomic():
        return [
            cas.service_ticket_issue(
                account=account,
                service=service,
                service_url=service_url,
                session_id="bench",
                from_new_login=False,
                authenticated=clock.now(),
                ip=ip,
            )
            for _ in range(count)
        ]


def oidc_codes(
    application: Any, account: Any, redirect_uri: str, verifier: str, count: int
) -> list[str]:
    """``count`` authorization codes with PKCE S256 (``verifier``) and the openid profile
    email scopes, stored as the authorization endpoint stores them."""
    from authlib.common.security import generate_token
    from authlib.oauth2.rfc7636 import create_s256_code_challenge
    from django.utils import timezone
    from oauth2_provider.models import Grant

    challenge = create_s256_code_challenge(verifier)
    codes = [generate_token(30) for _ in range(count)]
    Grant.objects.bulk_create(
        Grant(
            application=application,
            user=account,
            code=code,
            expires=timezone.now() + timedelta(hours=1),
            redirect_uri=redirect_uri,
            scope="openid profile email",
            code_challenge=challenge,
            code_challenge_method="S256",
            nonce="bench",
            claims="{}",
        )
        for code in codes
    )
    return codes
