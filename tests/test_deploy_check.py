"""``ent check --deploy`` is clean with production settings (issue 6, section 1).

Each test runs the real command in a subprocess with the environment a university would give
it: no demo mode, a long secret key, an https ENT_BASE_URL, an SMTP relay, an OIDC signing key
file and the database of this run. Warnings count as failures (``--fail-level WARNING``).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ENT = str(Path(sys.executable).with_name("ent"))


@pytest.fixture(scope="module")
def production_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The ENT_* variables of a production instance (nothing from the test settings)."""
    var = tmp_path_factory.mktemp("prod-var")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = var / "oidc.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENT_", "DJANGO_"))}
    env.update(
        {
            "ENT_SECRET_KEY": secrets.token_urlsafe(50),
            "ENT_BASE_URL": "https://ent.univ-perp.fr",
            "ENT_SMTP_URL": "smtp+starttls://ent:secret@relay.univ-perp.fr:587",
            "ENT_OIDC_PRIVATE_KEY": str(key_file),
            "ENT_DATABASE_URL": os.environ.get(
                "ENT_DATABASE_URL", f"sqlite:///{var / 'ent.sqlite3'}"
            ),
            "ENT_VAR_DIR": str(var),
        }
    )
    return env


def deploy_check(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ENT, "check", "--deploy", "--fail-level", "WARNING"],
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def probe(env: dict[str, str], expression: str, **extra: str) -> str:
    code = (
        "import django; from django.conf import settings; django.setup();"
        f" print(repr({expression}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "ent.settings", **extra},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_deploy_check_is_clean_with_production_settings(production_env: dict[str, str]) -> None:
    result = deploy_check(production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr


def test_deploy_check_is_clean_behind_a_proxy(production_env: dict[str, str]) -> None:
    # The usual set-up: a TLS proxy that redirects http itself, trusted for X-Forwarded-Proto.
    result = deploy_check(production_env, ENT_TRUSTED_PROXIES="10.0.0.5", ENT_SSL_REDIRECT="0")
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_check_fails_on_a_plain_http_base_url(production_env: dict[str, str]) -> None:
    # The check is not blind: without https, cookies are not Secure and there is no HSTS.
    result = deploy_check(production_env, ENT_BASE_URL="http://ent.univ-perp.fr")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for check_id in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check_id in output, output


def test_deploy_check_fails_with_debug_on(production_env: dict[str, str]) -> None:
    result = deploy_check(production_env, ENT_DEBUG="1")
    assert result.returncode != 0 and "security.W018" in result.stdout + result.stderr


def test_production_security_settings(production_env: dict[str, str]) -> None:
    values = probe(
        production_env,
        "(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SECURE_SSL_REDIRECT,"
        " settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,"
        " settings.SECURE_HSTS_PRELOAD, settings.SECURE_PROXY_SSL_HEADER,"
        " settings.X_FRAME_OPTIONS, settings.SECURE_CONTENT_TYPE_NOSNIFF)",
    )
    assert values == "(True, True, True, 31536000, True, False, None, 'DENY', True)"
    # X-Forwarded-Proto is read only when a trusted proxy is configured.
    assert (
        probe(production_env, "settings.SECURE_PROXY_SSL_HEADER", ENT_TRUSTED_PROXIES="10.0.0.0/8")
        == "('HTTP_X_FORWARDED_PROTO', 'https')"
    )
    assert probe(production_env, "settings.SECURE_SSL_REDIRECT", ENT_SSL_REDIRECT="0") == "False"
    assert probe(production_env, "settings.SECURE_HSTS_PRELOAD", ENT_HSTS_PRELOAD="1") == "True"
