"""Authorization-code exchanges per second at /oauth/token/, against a trivial view.

Usage: ``ENT_DEMO=1 ENT_VAR_DIR=/tmp/bench-var [ENT_DATABASE_URL=...] .venv/bin/python
bench/oidc_token_exchange.py [N] [--baseline | --baseline-hashed]``. One process, Django's in-process WSGI client (no HTTP
server), so the figure is the cost of the view itself: a confidential client authenticating
with its secret (client_secret_basic), a code with PKCE S256 and the openid profile email
scopes, answered with an access token, a refresh token and an RS256 ID token. The database
named by ENT_DATABASE_URL is used as is: point it at a throw-away one.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from datetime import date
from urllib.parse import urlencode

import fixtures  # bench/fixtures.py (bench/ is on the path of its scripts)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ent.settings")


# ``--baseline`` / ``--baseline-hashed``: the same measure on django-oauth-toolkit as shipped.
BASELINE = {"--baseline": "clear", "--baseline-hashed": "hashed"}.get(
    sys.argv[2] if len(sys.argv) > 2 else "", ""
)


def _baseline_urls() -> list[object]:
    from django.urls import path
    from oauth2_provider import views as dot_views

    from ent.core import views as core_views

    return [
        path("oauth/token/", dot_views.TokenView.as_view()),
        path("healthz", core_views.healthz),
    ]


def __getattr__(name: str) -> object:  # urlpatterns of this module, for --baseline
    if name == "urlpatterns":
        return _baseline_urls()
    raise AttributeError(name)


def main(count: int = 300) -> None:
    """Create ``count`` codes, exchange them, time /healthz as many times, print the ratio."""
    import django

    django.setup()
    from authlib.common.security import generate_token
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from ent.accounts.models import Account
    from ent.directory.importing import Row
    from ent.directory.models import Student
    from ent.directory.services import students_import
    from ent.sso.models import Attribute, Service
    from ent.sso.oidc import oidc_secret_rotate

    call_command("migrate", verbosity=0)
    students_import(
        rows=[Row(0, "39999999", "999999999ZZ", "Bench", "Ada", date(2004, 1, 1), "Licence")]
    )
    student = Student.objects.get(student_number="39999999")
    account = getattr(student, "account", None) or Account.objects.create(
        username=student.student_number, student=student, state=Account.State.ACTIVE
    )
    redirect_uri = "https://bench.example.org/cb"
    service, _ = Service.objects.get_or_create(
        slug="bench-oidc",
        defaults={
            "name": "Bench",
            "home_url": "https://bench.example.org/",
            "protocol": Service.Protocol.OIDC,
            "oidc_redirect_uris": redirect_uri,
            "attributes": [Attribute.UID, Attribute.DISPLAY_NAME, Attribute.MAIL],
        },
    )
    secret = oidc_secret_rotate(service=service)
    service.refresh_from_db()
    application = service.oidc_client.application  # type: ignore[attr-defined]
    client_id = service.oidc_client_id
    if BASELINE:
        # django-oauth-toolkit as shipped: its validator, server and token view, a secret
        # stored in clear (hash_client_secret=False) or hashed with the password hasher.
        from django.contrib.auth.hashers import make_password
        from oauth2_provider.models import Application
        from oauth2_provider.settings import oauth2_settings

        settings.ROOT_URLCONF = __name__
        settings.OAUTH2_PROVIDER = {
            **settings.OAUTH2_PROVIDER,
            "OAUTH2_VALIDATOR_CLASS": "oauth2_provider.oauth2_validators.OAuth2Validator",
            "OIDC_SERVER_CLASS": "oauthlib.openid.Server",
            "OAUTH2_SERVER_CLASS": "oauthlib.openid.Server",
        }
        oauth2_settings.reload()
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
        client_id = "baseline-" + generate_token(20)
        application = Application.objects.create(
            client_id=client_id,
            client_secret=make_password(secret) if BASELINE == "hashed" else secret,
            hash_client_secret=False,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=redirect_uri,
            algorithm=Application.RS256_ALGORITHM,
        )
    verifier = generate_token(48)
    codes = fixtures.oidc_codes(application, account, redirect_uri, verifier, count)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    client = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0])

    def exchange(code: str) -> None:
        # application/x-www-form-urlencoded, as relying parties send it (RFC 6749 4.1.3).
        response = client.post(
            "/oauth/token/",
            urlencode(
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": redirect_uri,
                    "code_verifier": verifier,
                }
            ),
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=f"Basic {basic}",
        )
        assert response.status_code == 200, response.content

    exchange(codes.pop())  # warm-up (key loading, caches)
    queries: list[str] = []

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        exchange(codes.pop())
    if os.environ.get("BENCH_SHOW_SQL"):
        print("\n".join(queries))
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        # CPU time, as the measure below: waiting for the database is not counted.
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for code in codes[:100]:
            exchange(code)
        profiler.disable()
        codes = codes[100:]
        stats = pstats.Stats(profiler)
        if os.environ.get("BENCH_PROFILE_FILE"):
            stats.dump_stats(os.environ["BENCH_PROFILE_FILE"])
        by_package: dict[str, float] = {}
        for (filename, _line, _name), row in stats.stats.items():  # type: ignore[attr-defined]
            parts = filename.split("site-packages/")
            package = (
                parts[1].split("/")[0]
                if len(parts) > 1
                else "/".join(filename.split("/")[-2:-1]) or filename
            )
            by_package[package] = by_package.get(package, 0.0) + row[2]
        for package, seconds in sorted(by_package.items(), key=lambda kv: -kv[1])[:12]:
            print(f"{package:30s} {seconds * 10:.2f} ms per exchange (own time, profiled)")
    # CPU time of this process: on a shared machine, wall time also counts the others. Rounds
    # of exchanges and of the trivial view alternate, and the best round of each is kept, so a
    # burst of load elsewhere does not land on one side only.
    client.get("/healthz")
    rounds = 5 if len(codes) >= 50 else 1
    size = len(codes) // rounds
    token_times: list[float] = []
    trivial_times: list[float] = []
    for index in range(rounds):
        start = time.process_time()
        for code in codes[index * size : (index + 1) * size]:
            exchange(code)
        token_times.append((time.process_time() - start) / size)
        start = time.process_time()
        for _ in range(size):
            client.get("/healthz")
        trivial_times.append((time.process_time() - start) / size)
    token_rate = 1 / min(token_times)
    trivial_rate = 1 / min(trivial_times)
    print(f"token exchanges: {token_rate:.0f}/s of CPU ({len(queries)} SQL statements each)")
    print(f"trivial view:    {trivial_rate:.0f}/s of CPU")
    print(f"ratio:           {token_rate / trivial_rate:.3f} (best of {rounds} interleaved rounds)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
