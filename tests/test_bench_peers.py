"""``make bench-peers`` (bench/peers.py): its targets and factories give the peer harness
(../shared/peers/bench.py) what its contract asks: n fresh tickets that validate, n JSON codes
that exchange with PKCE. A benchmark whose factories broke would measure error pages."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture
def peers(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(BENCH))
    import peers as module  # bench/peers.py

    return module


@pytest.fixture
def seeded(peers: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """The data ``bench/peers.py seed`` writes; returns ``client_id secret``."""
    import run  # bench/run.py

    data = run.prepare(0, 1)
    client = f"{data['oidc_client_id']} {data['oidc_secret']}"
    monkeypatch.setenv("ENT_BENCH_PEERS_CLIENT", client)
    return client


def _mint(peers: Any, capsys: pytest.CaptureFixture[str], kind: str, n: int) -> list[str]:
    capsys.readouterr()
    peers.mint(kind, n, peers.CAS_SERVICE)
    return [line for line in capsys.readouterr().out.splitlines() if line.strip()]


@pytest.mark.django_db
def test_cas_factory_prints_n_tickets_that_validate_once(
    peers: Any, seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tickets = _mint(peers, capsys, "cas", 3)
    assert len(tickets) == len(set(tickets)) == 3
    client = Client()
    for ticket in tickets:
        query = {"service": peers.CAS_SERVICE, "ticket": ticket}
        assert b"authenticationSuccess" in client.get("/cas/serviceValidate", query).content
        assert b"authenticationFailure" in client.get("/cas/serviceValidate", query).content


@pytest.mark.django_db
def test_oidc_factory_prints_n_codes_that_exchange(
    peers: Any, seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [json.loads(line) for line in _mint(peers, capsys, "oidc", 2)]
    assert len(lines) == 2
    client_id, secret = seeded.split()
    for line in lines:
        assert set(line) == {"code", "code_verifier", "redirect_uri", "client_id", "client_secret"}
        assert (line["client_id"], line["client_secret"]) == (client_id, secret)
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        answer = Client().post(
            "/oauth/token/",
            {
                "grant_type": "authorization_code",
                "code": line["code"],
                "redirect_uri": line["redirect_uri"],
                "code_verifier": line["code_verifier"],
            },
            HTTP_AUTHORIZATION=f"Basic {basic}",
        )
        assert answer.status_code == 200, answer.content
        assert {"access_token", "id_token"} <= set(answer.json())
    # The codes carry an S256 challenge of the verifier (the harness's contract).
    from oauth2_provider.models import Grant

    grant = Grant.objects.filter(code=lines[0]["code"]).first()
    if grant is not None:  # kept after use by some versions: check its challenge
        digest = hashlib.sha256(lines[0]["code_verifier"].encode()).digest()
        assert grant.code_challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_targets_follow_the_harness_contract(peers: Any, tmp_path: Path) -> None:
    env = peers.ent_env(tmp_path, f"sqlite:///{tmp_path / 'ent.sqlite3'}")
    env["ENT_BENCH_PEERS_CLIENT"] = "client-id secret"
    sync = peers.target("sqlite", "sync", env)
    gthread = peers.target("pg", "gthread", env, "ENT_DATABASE_CONN_MAX_AGE=0")
    for t in (sync, gthread):
        for key in ("name", "server_cmd", "base", "hello", "cas", "cas_service"):
            assert t[key]
        assert "{port}" in t["server_cmd"] and "{port}" in t["base"]
        assert "{n}" in t["cas_ticket_factory"] and "{service}" in t["cas_ticket_factory"]
        assert "{n}" in t["oidc_code_factory"] and "{client_id}" in t["oidc_code_factory"]
        assert [c["client_id"] for c in t["oidc_clients"]] == ["client-id"]
        assert t["env"]["ENT_CAS_TICKET_SECONDS"] == "300"
        json.dumps(t)  # written as JSON
    # Same worker class as the peer's (sync), or ENT's own; PostgreSQL's backends counted.
    assert sync["env"]["GUNICORN_CMD_ARGS"] == "--worker-class sync --threads 1"
    assert "GUNICORN_CMD_ARGS" not in gthread["env"]
    assert (sync["pg_database"], gthread["pg_database"]) == (None, peers.PG_DATABASE)
    assert gthread["env"]["ENT_DATABASE_CONN_MAX_AGE"] == "0"
    assert sys.executable in sync["cas_ticket_factory"]
