"""CAS ``/cas/p3/serviceValidate`` against a trivial Django view (``/healthz``), in process.

Usage: ``ENT_DEMO=1 ENT_DATABASE_URL=... .venv/bin/python bench/cas_validate.py [N]``. The
database named by ENT_DATABASE_URL is used as is (migrated, a student and a service added):
point it at a throw-away one. Prints requests per second of each and their ratio.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date

import fixtures  # bench/fixtures.py (bench/ is on the path of its scripts)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ent.settings")

SERVICE_URL = "https://bench.example.org/"


def main(count: int = 500) -> None:
    """Issue tickets, then time ``count`` validations against as many trivial requests."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from ent.accounts.models import Account
    from ent.directory.importing import Row
    from ent.directory.models import Student
    from ent.directory.services import students_import
    from ent.sso.models import Service

    call_command("migrate", verbosity=0)
    students_import(
        rows=[Row(0, "39999999", "999999999ZZ", "Bench", "Ada", date(2004, 1, 1), "Licence")]
    )
    student = Student.objects.get(student_number="39999999")
    account, _ = Account.objects.get_or_create(
        username="39999999", defaults={"student": student, "state": Account.State.ACTIVE}
    )
    service, _ = Service.objects.update_or_create(
        slug="bench",
        defaults={
            "name": "Bench",
            "home_url": SERVICE_URL,
            "protocol": Service.Protocol.CAS,
            "cas_service_pattern": r"https://bench\.example\.org/.*",
            "attributes": ["uid", "mail", "displayName"],
        },
    )
    rounds = 5

    def issue(n: int) -> list[str]:
        return fixtures.cas_tickets(account, service, SERVICE_URL, n)

    # Issued before each round, not all at first: on a loaded machine the last ones would
    # expire (ENT_CAS_TICKET_SECONDS) before their round.
    tickets = iter(issue(count))
    client = Client(HTTP_HOST="127.0.0.1")  # a host ALLOWED_HOSTS knows

    def trivial() -> None:
        client.get("/healthz")

    def validate() -> None:
        response = client.get(
            "/cas/p3/serviceValidate", {"ticket": next(tickets), "service": SERVICE_URL}
        )
        assert b"authenticationSuccess" in response.content

    # Interleaved rounds, best of each: other processes on the machine slow both alike.
    best = {"trivial": 0.0, "validate": 0.0}
    for index in range(rounds):
        if index:
            tickets = iter(issue(count))
        for name, call in (("trivial", trivial), ("validate", validate)):
            start = time.perf_counter()
            for _ in range(count):
                call()
            best[name] = max(best[name], count / (time.perf_counter() - start))
    print(
        f"trivial view: {best['trivial']:.0f} req/s; serviceValidate: {best['validate']:.0f}"
        f" req/s; ratio {best['validate'] / best['trivial']:.2f} (best of {rounds} rounds)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
