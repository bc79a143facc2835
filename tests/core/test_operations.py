"""What the operators and the load balancer see: /readyz, /metrics, request ids, JSON logs,
and the "service momentanément indisponible" page when Redis (or the database) is down."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client

from ent.accounts.sessions import sessions_active, sessions_end
from ent.core.logging import JsonFormatter, RedactCodesFilter, RequestIdFilter, request_id
from tests.conftest import GOOD_PASSWORD, free_port, page_text

pytestmark = pytest.mark.django_db


def _dead_redis(settings: Any) -> None:
    """Point the shared state at a Redis port where nothing listens (a Redis outage)."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHE_URL = url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.SESSION_ENGINE = "ent.core.session_cache"


# --- /healthz and /readyz ----------------------------------------------------------------------


def test_readyz_reports_each_check(client: Client, shared_state: str) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert body["checks"]["database"] == "ok"
    assert (body["checks"]["cache"] == "ok") is (shared_state == "redis")
    assert "mail_queue" in body["checks"]
    assert response["Cache-Control"].startswith("max-age=0")


def test_readyz_names_redis_when_it_is_down(client: Client, settings: Any) -> None:
    _dead_redis(settings)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["cache"]
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cache"].startswith("unavailable: ConnectionError")
    # Liveness does not depend on Redis or the database.
    assert client.get("/healthz").status_code == 200


def test_readyz_names_an_unreadable_mail_queue_without_its_details(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ent.core import mail

    def broken() -> None:
        raise RuntimeError("relation secret_table_name does not exist")

    monkeypatch.setattr(mail, "mail_queue_stats", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["mail_queue"]
    assert body["checks"]["mail_queue"] == "unavailable: RuntimeError"
    assert "secret_table_name" not in response.content.decode()


# --- The 503 page -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "title", "not_title"),
    [
        ("fr", "Service momentanément indisponible", "Service temporarily unavailable"),
        ("en", "Service temporarily unavailable", "Service momentanément indisponible"),
    ],
)
def test_redis_down_gives_the_503_page_not_a_trace(
    settings: Any, language: str, title: str, not_title: str
) -> None:
    _dead_redis(settings)
    browser = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE=language)
    browser.cookies[settings.SESSION_COOKIE_NAME] = "a" * 32  # a session to load from Redis
    response = browser.get("/")
    assert response.status_code == 503
    text = page_text(response)
    assert title in text and not_title not in text
    assert "Traceback" not in text and "ConnectionError" not in text
    assert response["Retry-After"] == "10"
    assert response["X-Request-ID"]
    # A form sent meanwhile gets the same page (the session is saved on the way out).
    response = browser.post(
        "/login", {"identifier": "21000001", "password": "x"}, HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code in (403, 503)  # CSRF may answer first: never a 500


def test_redis_back_the_service_answers_without_restart(
    settings: Any, redis_state: str, active_student: Any
) -> None:
    """Same process: Redis unreachable (503), then reachable again (200, signed in)."""
    browser = Client(raise_request_exception=False)
    response = browser.post(
        "/login", {"identifier": active_student.student_number, "password": GOOD_PASSWORD}
    )
    assert response.status_code == 302
    good = dict(settings.CACHES)
    good_url = settings.CACHE_URL
    _dead_redis(settings)
    assert browser.get("/").status_code == 503
    settings.CACHES = good
    settings.CACHE_URL = good_url
    response = browser.get("/")
    assert response.status_code == 200
    assert response.context["user"].pk == active_student.account.pk


# --- Sessions in Redis --------------------------------------------------------------------------


def test_ending_sessions_works_on_redis(redis_state: str, active_student: Any) -> None:
    browsers = []
    for _ in range(3):
        browser = Client()
        response = browser.post(
            "/login", {"identifier": active_student.student_number, "password": GOOD_PASSWORD}
        )
        assert response.status_code == 302
        browsers.append(browser)
    account = active_student.account
    assert len(sessions_active(account)) == 3
    keep = browsers[0].session.session_key
    assert sessions_end(account=account, keep_key=keep) == 2
    assert browsers[0].get("/").context["user"].is_authenticated
    assert not browsers[1].get("/").context["user"].is_authenticated
    assert not browsers[2].get("/").context["user"].is_authenticated
    assert [s.session_key for s in sessions_active(account)] == [keep]


# --- /metrics -----------------------------------------------------------------------------------


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def test_metrics_count_logins_activations_and_throttling(
    client: Client, make_student: Any, settings: Any
) -> None:
    settings.THROTTLE_FREE_FAILURES = 5
    before = client.get("/metrics").content.decode()
    student = make_student()
    for _ in range(5):
        client.post("/login", {"identifier": student.student_number, "password": "Wrong.pass1"})
    client.post("/login", {"identifier": student.student_number, "password": "Wrong.pass1"})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    after = response.content.decode()
    assert _metric(after, 'ent_logins_total{result="failure"}') - _metric(
        before, 'ent_logins_total{result="failure"}'
    ) == pytest.approx(5)
    assert _metric(after, 'ent_logins_total{result="throttled"}') - _metric(
        before, 'ent_logins_total{result="throttled"}'
    ) == pytest.approx(1)
    assert _metric(after, 'ent_throttled_requests_total{scope="account"}') - _metric(
        before, 'ent_throttled_requests_total{scope="account"}'
    ) == pytest.approx(1)


def test_metrics_count_activation_steps(client: Client, make_active_student: Any) -> None:
    before = client.get("/metrics").content.decode()
    make_active_student(email="ada@example.org")
    after = client.get("/metrics").content.decode()
    for step in ("started", "confirmed"):
        name = f'ent_activations_total{{step="{step}"}}'
        assert _metric(after, name) - _metric(before, name) == pytest.approx(1)


def test_metrics_hidden_from_other_networks(settings: Any) -> None:
    outsider = Client(REMOTE_ADDR="203.0.113.9")
    assert outsider.get("/metrics").status_code == 404
    # Through the proxy, the real client counts, not the proxy's loopback address.
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    relayed = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert relayed.get("/metrics").status_code == 404
    settings.METRICS_ALLOWED_NETWORKS = ["203.0.113.0/24"]
    assert outsider.get("/metrics").status_code == 200
    assert Client().get("/metrics").status_code == 404  # loopback no longer listed


def test_metrics_token_when_configured(settings: Any) -> None:
    settings.METRICS_TOKEN = "s3cret-token-of-the-scraper"
    assert Client().get("/metrics").status_code == 404
    assert Client(HTTP_AUTHORIZATION="Bearer wrong").get("/metrics").status_code == 404
    ok = Client(HTTP_AUTHORIZATION="Bearer s3cret-token-of-the-scraper")
    assert ok.get("/metrics").status_code == 200


# --- Request id and JSON logs ------------------------------------------------------------------


def test_request_id_generated_and_on_every_line(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO, logger="ent.access"):
        response = client.get("/activation/confirm?code=N4QWQ6FVIT6451ACN54P")
    rid = response["X-Request-ID"]
    assert len(rid) == 32
    access = [r for r in caplog.records if r.name == "ent.access"]
    assert access and all(r.request_id == rid for r in access)  # type: ignore[attr-defined]
    assert "N4QWQ6FVIT6451ACN54P" not in access[-1].path  # type: ignore[attr-defined]
    assert client.get("/healthz")["X-Request-ID"] != rid


def test_request_id_from_a_trusted_proxy_only(settings: Any) -> None:
    header = {"HTTP_X_REQUEST_ID": "f00dfeed-1234-5678"}
    assert Client(**header).get("/healthz")["X-Request-ID"] != "f00dfeed-1234-5678"
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert Client(**header).get("/healthz")["X-Request-ID"] == "f00dfeed-1234-5678"
    # Even from the proxy, something that is not an id (a forged log line) is replaced.
    bad = Client(HTTP_X_REQUEST_ID="x\n{'level': 'ERROR'}")
    assert "\n" not in bad.get("/healthz")["X-Request-ID"]


def test_json_lines_carry_the_request_id_and_no_code() -> None:
    logger = logging.getLogger("ent.test")
    record = logger.makeRecord(
        "ent.test", logging.INFO, __file__, 1, "GET %s", ("/a?code=N4QWQ6FVIT6451ACN54P",), None
    )
    token = request_id.set("abc123abc123")
    try:
        assert RedactCodesFilter().filter(record) and RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abc123abc123"
    assert line["message"] == "GET /a?code=[redacted]"
    assert line["level"] == "INFO" and line["logger"] == "ent.test"


def test_logging_is_json_outside_demo() -> None:
    import os
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ENT_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env.update(
        ENT_SECRET_KEY="x" * 40,
        ENT_SMTP_URL="smtp://127.0.0.1:25",
        ENT_OIDC_PRIVATE_KEY=os.path.join(os.environ["ENT_VAR_DIR"], "oidc_private_key.pem"),
        ENT_VAR_DIR=os.environ["ENT_VAR_DIR"],
        DJANGO_SETTINGS_MODULE="ent.settings",
    )
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        " print(s.LOG_FORMAT, s.LOGGING['handlers']['console']['formatter'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["json", "json"]
