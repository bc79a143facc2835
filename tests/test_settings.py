"""Configuration from ENT_* variables: defaults, derived settings, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# The demo key the test settings generated (ENT_VAR_DIR of this run).
OIDC_KEY = os.path.join(os.environ["ENT_VAR_DIR"], "oidc_private_key.pem")
PROBE = "import django; from django.conf import settings; django.setup(); print(({attr},))"


def run_settings(
    env: dict[str, str], attr: str = "settings.BASE_URL"
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ENT_")}
    clean.update(
        {"DJANGO_SETTINGS_MODULE": "ent.settings", "ENT_VAR_DIR": os.environ["ENT_VAR_DIR"]}
    )
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(attr=attr)],
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )


def test_embedded_defaults() -> None:
    result = run_settings(
        {"ENT_DEMO": "1"},
        "settings.BASE_URL, settings.MAIL_FROM, settings.UNIVERSITY_SHORT_NAME, settings.STUDENT_MAIL_DOMAIN,"
        " settings.DATABASES['default']['ENGINE'], settings.EMAIL_BACKEND, settings.DEBUG",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "('http://127.0.0.1:8000', 'noreply@univ-perp.fr', 'UPVD', 'etudiant.univ-perp.fr',"
        " 'django.db.backends.sqlite3', 'ent.core.mail.DemoOutboxBackend', False)"
    )


def test_https_base_url_makes_cookies_secure() -> None:
    result = run_settings(
        {"ENT_DEMO": "1", "ENT_BASE_URL": "https://ent.univ-perp.fr"},
        "settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.ALLOWED_HOSTS[0]",
    )
    assert result.stdout.strip() == "(True, True, 'ent.univ-perp.fr')", result.stderr


def test_production_needs_secret_key_and_smtp() -> None:
    result = run_settings({})
    assert result.returncode != 0 and "ENT_SECRET_KEY" in result.stderr
    result = run_settings({"ENT_SECRET_KEY": "x" * 50})
    assert result.returncode != 0 and "ENT_SMTP_URL" in result.stderr
    result = run_settings(
        {
            "ENT_SECRET_KEY": "x" * 50,
            "ENT_SMTP_URL": "smtp://127.0.0.1:2525",
            "ENT_OIDC_PRIVATE_KEY": OIDC_KEY,
        },
        "settings.EMAIL_PORT",
    )
    assert result.stdout.strip() == "(2525,)", result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ENT_BASE_URL", "not a url"),
        ("ENT_BASE_URL", "https://ent.example.fr/sub/path"),
        ("ENT_DEBUG", "maybe"),
        ("ENT_PASSWORD_MIN_LENGTH", "six"),
        ("ENT_PASSWORD_MIN_LENGTH", "4"),
        ("ENT_PASSWORD_MIN_CLASSES", "5"),
        ("ENT_PASSWORD_SPECIALS", "abc"),
        ("ENT_ACTIVATION_CODE_HOURS", "0"),
        ("ENT_DATABASE_URL", "mysql://localhost/ent"),
        ("ENT_SMTP_URL", "http://relay"),
        ("ENT_MAIL_FROM", "not-an-address"),
        ("ENT_SECRET_KEY", "short"),
        ("ENT_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("ENT_DATABASE_CONN_MAX_AGE", "-1"),
        ("ENT_DATABASE_CONN_MAX_AGE", "forever"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    result = run_settings({"ENT_DEMO": "1", name: value})
    assert result.returncode != 0
    assert name in result.stderr


# What Django does at the end of each request (request_finished → close_old_connections).
REUSE_PROBE = (
    "import django; django.setup();"
    " from django.core.signals import request_finished, request_started;"
    " from django.db import connection;"
    " request_started.send(sender=None); connection.ensure_connection();"
    " first = connection.connection; request_finished.send(sender=None);"
    " request_started.send(sender=None); connection.ensure_connection();"
    " print(connection.connection is first, connection.settings_dict['CONN_MAX_AGE'])"
)


@pytest.mark.parametrize(
    ("env", "expected"), [({}, "True 60"), ({"ENT_DATABASE_CONN_MAX_AGE": "0"}, "False 0")]
)
def test_sqlite_connection_outlives_the_request(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    # A connection per request cost SQLite more CPU than the rest of a CAS validation: opening
    # it runs the PRAGMAs, closing the last one checkpoints the WAL (make bench-peers).
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ENT_")}
    clean.update(
        {
            "DJANGO_SETTINGS_MODULE": "ent.settings",
            "ENT_DEMO": "1",
            "ENT_VAR_DIR": os.environ["ENT_VAR_DIR"],
            "ENT_DATABASE_URL": f"sqlite:///{tmp_path / 'reuse.sqlite3'}",
            **env,
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", REUSE_PROBE], env=clean, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_ent_command_reports_configuration_error_in_one_line() -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ENT_")}
    clean.update({"ENT_DEMO": "1", "ENT_DEBUG": "maybe", "ENT_VAR_DIR": os.environ["ENT_VAR_DIR"]})
    result = subprocess.run(
        [sys.executable, "-m", "ent.manage", "check"],
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("ent: configuration error: ENT_DEBUG")
    assert "Traceback" not in result.stderr


# --- OpenID Connect signing key (ent.sso.oidc) ------------------------------------------------


def test_production_needs_oidc_key(tmp_path: Path) -> None:
    base = {"ENT_SECRET_KEY": "x" * 50, "ENT_SMTP_URL": "smtp://127.0.0.1:2525"}
    result = run_settings(base)
    assert result.returncode != 0 and "ENT_OIDC_PRIVATE_KEY: required" in result.stderr
    missing = tmp_path / "absent.pem"
    result = run_settings({**base, "ENT_OIDC_PRIVATE_KEY": str(missing)})
    assert result.returncode != 0 and "ENT_OIDC_PRIVATE_KEY: cannot read" in result.stderr
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    result = run_settings({**base, "ENT_OIDC_PRIVATE_KEY": str(junk)})
    assert result.returncode != 0 and "not an unencrypted PEM private key" in result.stderr
    result = run_settings(
        {**base, "ENT_OIDC_PRIVATE_KEY": OIDC_KEY},
        "settings.OAUTH2_PROVIDER['OIDC_ISS_ENDPOINT']",
    )
    assert result.stdout.strip() == "('http://127.0.0.1:8000',)", result.stderr


def test_demo_generates_a_private_key(tmp_path: Path) -> None:
    result = run_settings({"ENT_DEMO": "1", "ENT_VAR_DIR": str(tmp_path)}, "settings.VAR_DIR")
    assert result.returncode == 0, result.stderr
    key = tmp_path / "oidc_private_key.pem"
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert key.stat().st_mode & 0o777 == 0o600
