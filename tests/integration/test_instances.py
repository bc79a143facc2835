"""Two instances of ``ent serve`` sharing one PostgreSQL database and Redis.

What a university behind a load balancer relies on: whichever instance a request lands on,
a CAS ticket issued by one is valid at the other, a session opened on one is a session on the
other, and password guesses spread over both are counted together. Runs in both CI runs (the
SQLite one too): it makes its own database on the machine's PostgreSQL.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
import requests

from tests.conftest import GOOD_PASSWORD, TEST_REDIS_URL
from tests.integration.instances import (
    Deployment,
    Instance,
    csrf_token,
    deployment,
    ent_serve,
    machine_postgres_url,
    postgres_database,
)

pytestmark = pytest.mark.slow

SERVICE_URL = "https://moodle.example.org/login/"

SETUP = """
import json
from datetime import date
from ent.accounts import activation
from ent.core.codes import CodeStatus, code_issue
from ent.core.models import OneTimeCode
from ent.directory.importing import Row
from ent.directory.services import students_import
from ent.directory.models import Student
from ent.sso.models import Service
from datetime import timedelta
rows = [Row(line=i, student_number=f"2100000{i}", ine=f"00000000{i}AB", last_name="Pascal",
            first_name="Blaise", birth_date=date(2004, 6, 19), program="L1") for i in (1, 2)]
assert not students_import(rows=rows).errors
student = Student.objects.get(student_number="21000001")
account = activation.activation_start(student=student, email="blaise@example.org",
    password=%(password)r, charter_accepted=True, ip=None)
_row, code = code_issue(purpose=OneTimeCode.Purpose.ACTIVATION, account=account,
    email="blaise@example.org", lifetime=timedelta(hours=1))
assert activation.activation_confirm(code=code, ip=None) is CodeStatus.DONE
Service.objects.create(name="Moodle", slug="moodle", home_url="https://moodle.example.org/",
    protocol=Service.Protocol.CAS, cas_service_pattern=r"https://moodle\\.example\\.org/.*",
    attributes=["uid", "mail", "displayName"])
print(json.dumps("ok"))
"""


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Deployment, Instance, Instance]]:
    """One database, one Redis prefix, two instances (two workers each)."""
    with postgres_database(machine_postgres_url()) as url, deployment(url) as deploy:
        deploy.run("migrate", "--no-input", timeout=180)
        assert deploy.python(SETUP % {"password": GOOD_PASSWORD}) == "ok"
        with ent_serve(deploy) as first, ent_serve(deploy) as second:
            yield deploy, first, second


def _sign_in(browser: requests.Session, instance: Instance, number: str, password: str) -> Any:
    page = browser.get(f"{instance.url}/login", timeout=10)
    assert page.status_code == 200
    return browser.post(
        f"{instance.url}/login",
        data={
            "identifier": number,
            "password": password,
            "csrfmiddlewaretoken": csrf_token(page.text),
        },
        allow_redirects=False,
        timeout=10,
    )


def _ticket(browser: requests.Session, instance: Instance) -> str:
    response = browser.get(
        f"{instance.url}/cas/login", params={"service": SERVICE_URL}, allow_redirects=False
    )
    assert response.status_code == 302, response.text[:500]
    location = response.headers["Location"]
    assert location.startswith(SERVICE_URL + "?ticket=ST-")
    return location.split("ticket=", 1)[1]


def _validate(instance: Instance, ticket: str) -> str:
    response = requests.get(
        f"{instance.url}/cas/p3/serviceValidate",
        params={"service": SERVICE_URL, "ticket": ticket},
        timeout=10,
    )
    assert response.status_code == 200
    return response.text


def test_a_session_opened_on_one_is_valid_on_the_other(pair: Any) -> None:
    _deploy, first, second = pair
    browser = requests.Session()  # cookies of 127.0.0.1 go to both ports, as behind one name
    response = _sign_in(browser, first, "21000001", GOOD_PASSWORD)
    assert response.status_code == 302, response.text[:500]
    home = browser.get(f"{second.url}/", timeout=10)
    assert home.status_code == 200
    assert "Bonjour Blaise Pascal" in home.text
    # Signing out on the second ends the session on the first too.
    logout = browser.post(
        f"{second.url}/logout",
        data={"csrfmiddlewaretoken": csrf_token(home.text)},
        allow_redirects=False,
        timeout=10,
    )
    assert logout.status_code == 302
    assert "Bonjour Blaise Pascal" not in browser.get(f"{first.url}/", timeout=10).text


def test_a_cas_ticket_issued_by_one_is_validated_by_the_other(pair: Any) -> None:
    _deploy, first, second = pair
    browser = requests.Session()
    assert _sign_in(browser, first, "21000001", GOOD_PASSWORD).status_code == 302
    ticket = _ticket(browser, first)
    body = _validate(second, ticket)
    assert "<cas:authenticationSuccess>" in body and "<cas:user>21000001</cas:user>" in body
    # Single use across instances: the first instance now refuses it.
    assert "INVALID_TICKET" in _validate(first, ticket)
    # And the other way round.
    assert "<cas:authenticationSuccess>" in _validate(first, _ticket(browser, second))


def test_throttling_counts_failures_made_on_both(pair: Any) -> None:
    deploy, first, second = pair
    for i in range(5):  # ENT_THROTTLE_FREE_FAILURES: the 5th failure imposes a delay
        instance = (first, second)[i % 2]
        response = _sign_in(requests.Session(), instance, "21000002", f"Wrong.guess{i}")
        assert response.status_code == 200
        assert "Identifiant ou mot de passe incorrect" in response.text
    # Neither instance saw five failures by itself, yet both refuse now, even the INE.
    for instance in (first, second):
        response = _sign_in(requests.Session(), instance, "21000002", "000000002AB")
        assert response.status_code == 200
        assert "Trop d'essais infructueux" in html.unescape(response.text)
    # The counters are in Redis (none in the database), under the deployment's prefix.
    client = redis.Redis.from_url(TEST_REDIS_URL)
    assert list(client.scan_iter(match=f"{deploy.redis_prefix}:throttle:account:*"))
    assert (
        deploy.python(
            "import json; from ent.core.models import ThrottleCounter;"
            " print(json.dumps(ThrottleCounter.objects.count()))"
        )
        == 0
    )


def test_both_ready_and_counting(pair: Any) -> None:
    _deploy, first, second = pair
    for instance in (first, second):
        ready = requests.get(f"{instance.url}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json()["checks"]["cache"] == "ok"
        metrics = requests.get(f"{instance.url}/metrics", timeout=10)
        assert metrics.status_code == 200
        # Counters add up the workers of the instance (prometheus_client multiprocess mode).
        assert "ent_logins_total" in metrics.text
        assert "ent_cas_validations_total" in metrics.text
        # JSON lines with the request id of the response.
        response = requests.get(f"{instance.url}/healthz", timeout=10)
        rid = response.headers["X-Request-ID"]
        deadline = time.monotonic() + 10
        while f'"request_id": "{rid}"' not in instance.logs() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert f'"request_id": "{rid}"' in instance.logs()
        assert '"path": "/healthz", "status": 200' in instance.logs()


def test_pages_are_served_while_the_worker_checks_passwords(pair: Any) -> None:
    """One worker (as on a one-core machine) busy with slow password checks still serves pages.

    With argon2id made about 30 times slower than usual (``ENT_ARGON2_TIME_COST``), three
    wrong logins keep the worker hashing for seconds; the login page, asked meanwhile, comes
    back as fast as usual: the worker's threads serve it while argon2 runs without the GIL.
    One request per process (gunicorn's sync workers) made it wait for the three hashes.
    """
    deploy, _first, _second = pair
    slow = Deployment(env={**deploy.env, "ENT_ARGON2_TIME_COST": "60"}, redis_prefix="")
    with ent_serve(slow, workers=1) as instance:
        page = requests.get(f"{instance.url}/login", timeout=10)
        token, cookies = csrf_token(page.text), page.cookies

        def wrong_login(n: int) -> float:
            start = time.perf_counter()
            answer = requests.post(
                f"{instance.url}/login",
                data={
                    "identifier": f"9999999{n}",
                    "password": "Faux.Mot2passe",
                    "csrfmiddlewaretoken": token,
                },
                cookies=cookies,
                allow_redirects=False,
                timeout=30,
            )
            assert answer.status_code == 200  # the form again, with its message
            return time.perf_counter() - start

        with ThreadPoolExecutor(3) as pool:
            hashing = [pool.submit(wrong_login, n) for n in range(3)]
            time.sleep(0.2)  # the three checks are under way
            start = time.perf_counter()
            assert requests.get(f"{instance.url}/login", timeout=30).status_code == 200
            page_time = time.perf_counter() - start
            slowest = max(f.result() for f in hashing)
        assert slowest > 1.0, f"the checks took {slowest:.2f} s: not slow enough to tell"
        assert page_time < slowest / 3, (page_time, slowest)
