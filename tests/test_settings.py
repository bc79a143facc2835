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
        ("ENT_IMAP_PUBLIC_HOST", "imap.univ-perp.fr:993"),
        ("ENT_IMAP_PUBLIC_HOST", ""),
        ("ENT_IMAP_PUBLIC_PORT", "0"),
        ("ENT_SMTP_SUBMISSION_HOST", "smtp univ-perp.fr"),
        ("ENT_SMTP_SUBMISSION_PORT", "70000"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    result = run_settings({"ENT_DEMO": "1", name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_mail_client_servers() -> None:
    """The servers /documentation/ shows for a mail client: defaults, then the environment."""
    attrs = (
        "settings.IMAP_PUBLIC_HOST, settings.IMAP_PUBLIC_PORT,"
        " settings.SMTP_SUBMISSION_HOST, settings.SMTP_SUBMISSION_PORT"
    )
    result = run_settings({"ENT_DEMO": "1"}, attrs)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "('imap.univ-perp.fr', 993, 'smtp.univ-perp.fr', 587)"
    env = {
        "ENT_DEMO": "1",
        "ENT_IMAP_PUBLIC_HOST": "Mail.UMontpellier.fr",
        "ENT_IMAP_PUBLIC_PORT": "1993",
        "ENT_SMTP_SUBMISSION_HOST": "smtp.umontpellier.fr",
        "ENT_SMTP_SUBMISSION_PORT": "465",
    }
    result = run_settings(env, attrs)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "('mail.umontpellier.fr', 1993, 'smtp.umontpellier.fr', 465)"


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


def ent_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``ent check`` with only these ENT_* variables (and the suite's var directory)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ENT_")}
    clean.update(env, ENT_VAR_DIR=os.environ["ENT_VAR_DIR"])
    return subprocess.run(
        [sys.executable, "-m", "ent.manage", "check"],
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )


def test_ent_command_reports_configuration_error_in_one_line() -> None:
    result = ent_check({"ENT_DEMO": "1", "ENT_DEBUG": "maybe"})
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


# --- The university directory (ENT_LDAP_*; ent.directory.ldap_entry) ----------------------------

LDAP_SETTINGS = (
    "settings.LDAP_URL, settings.LDAP_STARTTLS, settings.LDAP_BIND_DN,"
    " settings.LDAP_BIND_PASSWORD, settings.LDAP_PEOPLE_DN, settings.LDAP_UID"
)


@pytest.fixture
def bind_password(tmp_path: Path) -> Path:
    path = tmp_path / "ldap-bind-password"
    path.write_text("s3cret bind password\n")
    return path


def ldap_env(password_file: Path, **env: str) -> dict[str, str]:
    return {
        "ENT_DEMO": "1",
        "ENT_LDAP_BIND_DN": "cn=ent,ou=services,dc=univ-perp,dc=fr",
        "ENT_LDAP_BIND_PASSWORD_FILE": str(password_file),
        **env,
    }


def test_no_directory_by_default() -> None:
    result = run_settings({"ENT_DEMO": "1"}, LDAP_SETTINGS)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "('', False, '', '', 'ou=people,dc=univ-perp,dc=fr', 'student_number')"
    )


def test_directory_settings_are_read(bind_password: Path) -> None:
    env = ldap_env(
        bind_password,
        ENT_LDAP_URL="ldap://ldap.univ-perp.fr:389",
        ENT_LDAP_STARTTLS="on",
        ENT_LDAP_PEOPLE_DN="ou=etudiants,dc=example,dc=fr",
        ENT_LDAP_UID="mail_local_part",
    )
    result = run_settings(env, LDAP_SETTINGS)
    assert result.returncode == 0, result.stderr
    # The password file's last line break is not part of the password.
    assert result.stdout.strip() == (
        "('ldap://ldap.univ-perp.fr:389', True, 'cn=ent,ou=services,dc=univ-perp,dc=fr',"
        " 's3cret bind password', 'ou=etudiants,dc=example,dc=fr', 'mail_local_part')"
    )


@pytest.mark.parametrize(
    ("url", "starttls"),
    [
        ("ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi", "off"),
        ("ldapi://", "off"),
        ("ldap://127.0.0.1:3389", "off"),
        ("ldap://127.8.9.10", "off"),
        ("ldap://localhost:389/", "off"),
        ("ldap://[::1]:3389", "off"),
        ("ldaps://ldap.univ-perp.fr", "off"),
        ("ldaps://ldap.univ-perp.fr:636", "off"),
        ("ldap://ldap.univ-perp.fr", "on"),
        ("ldap://192.0.2.10:389", "on"),
    ],
)
def test_directory_urls_accepted(bind_password: Path, url: str, starttls: str) -> None:
    env = ldap_env(bind_password, ENT_LDAP_URL=url, ENT_LDAP_STARTTLS=starttls)
    result = run_settings(env, "settings.LDAP_URL")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"({url!r},)"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        # In clear over a network.
        ({"ENT_LDAP_URL": "ldap://ldap.univ-perp.fr"}, "ENT_LDAP_URL: 'ldap://ldap.univ-perp.fr'"),
        ({"ENT_LDAP_URL": "ldap://192.0.2.10:389"}, "would send password hashes"),
        ({"ENT_LDAP_URL": "ldap://128.0.0.1"}, "would send password hashes"),
        # Not LDAP, or not only a server.
        ({"ENT_LDAP_URL": "http://ldap.univ-perp.fr"}, "ENT_LDAP_URL: expected a URL with scheme"),
        ({"ENT_LDAP_URL": "ldap.univ-perp.fr"}, "ENT_LDAP_URL: expected a URL with scheme"),
        ({"ENT_LDAP_URL": "ldaps://"}, "ENT_LDAP_URL: expected a host name"),
        ({"ENT_LDAP_URL": "ldaps://ldap.univ-perp.fr:port"}, "ENT_LDAP_URL: bad port"),
        (
            {"ENT_LDAP_URL": "ldaps://ldap.univ-perp.fr/dc=univ-perp,dc=fr?uid"},
            "ENT_LDAP_URL: expected scheme://host[:port] with nothing after it",
        ),
        (
            {"ENT_LDAP_URL": "ldaps://cn=admin:secret@ldap.univ-perp.fr"},
            "ENT_LDAP_URL: expected scheme://host[:port] with nothing after it",
        ),
        # StartTLS where it means nothing.
        (
            {"ENT_LDAP_URL": "ldaps://ldap.univ-perp.fr", "ENT_LDAP_STARTTLS": "on"},
            "ENT_LDAP_STARTTLS",
        ),
        ({"ENT_LDAP_URL": "ldapi://", "ENT_LDAP_STARTTLS": "on"}, "ENT_LDAP_STARTTLS"),
        ({"ENT_LDAP_URL": "ldap://127.0.0.1", "ENT_LDAP_STARTTLS": "maybe"}, "ENT_LDAP_STARTTLS"),
        # Credentials.
        ({"ENT_LDAP_URL": "ldapi://", "ENT_LDAP_BIND_DN": ""}, "ENT_LDAP_BIND_DN: required"),
        ({"ENT_LDAP_URL": "ldapi://", "ENT_LDAP_BIND_DN": "admin"}, "ENT_LDAP_BIND_DN: required"),
        (
            {"ENT_LDAP_URL": "ldapi://", "ENT_LDAP_BIND_PASSWORD_FILE": ""},
            "ENT_LDAP_BIND_PASSWORD_FILE: required",
        ),
        (
            {"ENT_LDAP_URL": "ldapi://", "ENT_LDAP_BIND_PASSWORD_FILE": "/nonexistent/ldap"},
            "ENT_LDAP_BIND_PASSWORD_FILE: cannot read /nonexistent/ldap",
        ),
        # The entries themselves.
        ({"ENT_LDAP_UID": "username"}, "ENT_LDAP_UID: expected student_number or mail_local_part"),
        ({"ENT_LDAP_PEOPLE_DN": "people"}, "ENT_LDAP_PEOPLE_DN: expected a DN"),
    ],
)
def test_directory_settings_refused(bind_password: Path, env: dict[str, str], message: str) -> None:
    result = run_settings(ldap_env(bind_password, **env))
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_empty_bind_password_file_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    result = run_settings(ldap_env(empty, ENT_LDAP_URL="ldapi://"))
    assert result.returncode != 0
    assert f"ENT_LDAP_BIND_PASSWORD_FILE: {empty} is empty" in result.stderr


def test_directory_refusal_in_the_ent_command_style(bind_password: Path) -> None:
    result = ent_check(ldap_env(bind_password, ENT_LDAP_URL="ldap://ldap.univ-perp.fr"))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("ent: configuration error: ENT_LDAP_URL: ")
    assert "Traceback" not in result.stderr
