"""``make bench-peers``: ENT measured beside django-cas-server and django-oauth-toolkit, in one run.

The peer harness is ``../shared/peers/bench.py`` (beside the repository; ``make bench-peers``
builds its peer first with ``../shared/peers/setup.sh``): one gunicorn worker pinned to CPU 0,
a load generator of 8 keep-alive threads on CPU 1, fresh tickets and codes used once, CPU per
successful answer read from ``/proc``. This script, run with ENT's interpreter:

1. prepares ENT's databases (SQLite under ``var/bench-peers/``; PostgreSQL ``ent_bench_peers``
   on ``ENT_BENCH_POSTGRES`` when it answers): one student with an account, a CAS service, an
   OIDC client;
2. writes one harness target per (database, worker class) under ``var/bench-peers/``: ``ent
   serve`` with one worker, its production settings (JSON access log included), the worker
   class forced to the peer's (``sync``) or left at ENT's own (``gthread``, 8 threads), its
   tickets and codes minted by this script's ``mint`` sub-command through ``bench/fixtures.py``
   (the same code ``make bench`` uses), ``ENT_CAS_TICKET_SECONDS`` at its maximum (300 s) so
   that no pool expires while it is used;
3. runs the harness (imported from its file, not copied) once per database, the peer first, and
   adds to each figure the CPU of the PostgreSQL backends connected to that target's database
   (found in ``/proc`` by their process title), which the harness does not count;
4. prints the table and writes it to ``bench/results.md`` (section "Beside the peers"), which
   ``make bench`` keeps when it rewrites the rest of the file.

    python bench/peers.py [--db sqlite,pg] [--workers sync,gthread] [--repeat 3]
                          [--figures cas-sv,oidc] [--peers-dir ../shared/peers] [--no-write]
                          [--also ENT_X=VALUE]   # ENT once more with that setting, same run
    python bench/peers.py mint cas N [--service URL]       # a factory (target environment)
    python bench/peers.py mint oidc N [--client-id ID]

``--half-close``, ``--duration`` and ``--warmup`` are passed to the harness as they are.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import secrets
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
ENT = str(Path(PYTHON).parent / "ent")
VAR = ROOT / "var" / "bench-peers"
POSTGRES = os.environ.get("ENT_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432").rstrip("/")
PG_DATABASE = os.environ.get("ENT_BENCH_PEERS_DB", "ent_bench_peers")
CAS_SERVICE = "https://bench.example.org/app/"
OIDC_REDIRECT = "https://bench.example.org/cb"
SECTION = "## Beside the peers"
HISTORY = "## Changes measured with make bench-peers"


def log(message: str) -> None:
    print(f"[bench-peers {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- ENT's side: databases, data, targets, factories --------------------------------------


def ent_env(var_dir: Path, database_url: str) -> dict[str, str]:
    """What the target adds to the environment of its server and of its factories."""
    import run  # bench/run.py: the production settings make bench uses

    env = run.server_env(var_dir, database_url, 8000, 25)
    keep = {k: v for k, v in env.items() if k.startswith("ENT_")}
    keep.update(
        {
            "DJANGO_SETTINGS_MODULE": "ent.settings",
            "ENT_CAS_TICKET_SECONDS": "300",  # the maximum: a pool never expires while used
            "ENT_WORKERS": "1",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
    )
    return keep


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(f"{POSTGRES}/postgres", connect_timeout=3):
            return True
    except Exception:  # no server, or not trust auth: PostgreSQL is skipped
        return False


def prepare(db: str) -> dict[str, str]:
    """A fresh database for ``db`` (sqlite or pg), seeded; returns the target's environment."""
    var_dir = VAR / db
    if var_dir.exists():
        shutil.rmtree(var_dir)
    var_dir.mkdir(parents=True)
    if db == "sqlite":
        url = f"sqlite:///{var_dir / 'ent.sqlite3'}"
    else:
        import psycopg

        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        url = f"{POSTGRES}/{PG_DATABASE}"
    env = ent_env(var_dir, url)
    result = subprocess.run(
        [PYTHON, str(BENCH / "peers.py"), "seed"],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"seeding the {db} database failed:\n{result.stderr[-3000:]}")
    env["ENT_BENCH_PEERS_CLIENT"] = result.stdout.strip().splitlines()[-1]
    return env


def seed() -> None:
    """Migrate; one student with an active account, a CAS service, an OIDC client (prints
    ``client_id secret``). Runs in the target's environment."""
    import django

    django.setup()
    import run

    data = run.prepare(0, 1)  # no wave students, one account
    print(f"{data['oidc_client_id']} {data['oidc_secret']}")


def mint(kind: str, count: int, service_url: str) -> None:
    """The harness's factories: ``count`` tickets (one a line) or codes (one JSON a line)."""
    import django
    from django.apps import apps

    if not apps.ready:  # (tests/test_bench_peers.py calls it in process)
        django.setup()
    import fixtures

    from ent.accounts.models import Account
    from ent.sso.models import Service

    account = Account.objects.filter(username__startswith="3").first()
    assert account is not None, "run bench/peers.py (it seeds the database) first"
    if kind == "cas":
        service = Service.objects.get(slug="bench-cas")
        tickets = fixtures.cas_tickets(account, service, service_url, count, ip="127.0.0.1")
        sys.stdout.write("\n".join(tickets) + "\n")
        return
    client_id, secret = os.environ["ENT_BENCH_PEERS_CLIENT"].split()
    application = Service.objects.get(slug="bench-oidc").oidc_client.application  # type: ignore[attr-defined]
    lines = []
    # One verifier for each batch of 50 codes: PKCE is checked for every code all the same.
    for start in range(0, count, 50):
        verifier = secrets.token_urlsafe(48)
        for code in fixtures.oidc_codes(
            application, account, OIDC_REDIRECT, verifier, min(50, count - start)
        ):
            lines.append(
                json.dumps(
                    {
                        "code": code,
                        "code_verifier": verifier,
                        "redirect_uri": OIDC_REDIRECT,
                        "client_id": client_id,
                        "client_secret": secret,
                    }
                )
            )
    sys.stdout.write("\n".join(lines) + "\n")


def target(db: str, worker: str, env: dict[str, str], also: str = "") -> dict[str, Any]:
    """The harness target of ENT on ``db`` with ``worker`` (sync: the peer's worker class);
    ``also`` (``ENT_X=value``) changes one setting of the server (a before/after in one run)."""
    env = dict(env)
    if also:
        name, _, value = also.partition("=")
        env[name] = value
    if worker == "sync":
        # gunicorn reads GUNICORN_CMD_ARGS after ent/gunicorn_conf.py: the same server, the
        # peer's worker class.
        env["GUNICORN_CMD_ARGS"] = "--worker-class sync --threads 1"
    factory = f"{shlex.quote(PYTHON)} {shlex.quote(str(BENCH / 'peers.py'))} mint"
    return {
        "name": f"ENT {worker} ({db})" + (f" {also}" if also else ""),
        "server_cmd": f"{shlex.quote(ENT)} serve --workers 1 --bind 127.0.0.1:{{port}}",
        "cwd": str(ROOT),
        "env": env,
        "base": "http://127.0.0.1:{port}",
        "hello": "/healthz",
        "cas": "/cas",
        "cas_service": CAS_SERVICE,
        "cas_ticket_factory": factory + " cas {n} --service {service}",
        "oidc_token": "/oauth/token/",
        "oidc_code_factory": factory + " oidc {n} --client-id {client_id}",
        "oidc_clients": [
            {
                "client_id": env["ENT_BENCH_PEERS_CLIENT"].split()[0],
                "label": "confidential client, secret stored as a digest",
            }
        ],
        # Not read by the harness: this script counts the CPU of these PostgreSQL backends.
        "pg_database": PG_DATABASE if db == "pg" else None,
    }


# --- The harness, with PostgreSQL's CPU counted ------------------------------------------

_PG_TITLE = re.compile(rb"^postgres: (?:[^ ]+: )?([^ ]+) ([^ ]+) ")


def pg_backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to ``database`` (by process title)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    wanted = database.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
            match = _PG_TITLE.match(title)
            if match is None or match.group(2) != wanted:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def load_harness(peers_dir: Path) -> Any:
    path = peers_dir / "bench.py"
    if not path.exists():
        raise SystemExit(f"{path} not found: the peer harness lives in ../shared/peers/")
    spec = importlib.util.spec_from_file_location("peers_bench", path)
    assert spec is not None and spec.loader is not None
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)

    drive, peers_target = harness.drive, harness.peers_target

    def drive_counting_postgres(server: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        database = server.target.get("pg_database")
        before = pg_backend_cpu(database) if database else {}
        result: dict[str, Any] = drive(server, *args, **kwargs)
        if database:
            after = pg_backend_cpu(database)
            # A backend that started during the window counts from 0; one that ended is lost
            # (connections live ENT's 60 s, the peer's 600 s: longer than a figure).
            spent = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
            result["db_cpu_ms_per_ok"] = 1000 * spent / result["ok"] if result["ok"] else None
            result["db_backends"] = len(after)
            # With a connection per request (ENT_DATABASE_CONN_MAX_AGE=0) each backend lives
            # one request and is never seen here: its CPU cannot be counted this way.
            result["db_backends_kept"] = len(set(before) & set(after))
        return result

    def peers_target_named(db: str) -> dict[str, Any]:
        found: dict[str, Any] = peers_target(db)
        found["pg_database"] = os.environ.get("PEERS_PG_NAME", "peers") if db == "pg" else None
        return found

    harness.drive = drive_counting_postgres
    harness.peers_target = peers_target_named
    return harness


def run_harness(harness: Any, argv: list[str]) -> None:
    saved = sys.argv
    sys.argv = ["bench.py", *argv]
    try:
        harness.main()
    finally:
        sys.argv = saved


# --- The table -----------------------------------------------------------------------------


def summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Medians over the repeats, per target and figure, in the order measured."""
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        for t in run["targets"]:
            for f in t["figures"]:
                rows.setdefault((t["target"], f["key"]), []).append(f)
    out = []
    for (name, key), figures in rows.items():
        hello = rows.get((name, "hello"), [])

        def med(field: str, fs: list[dict[str, Any]] = figures) -> float | None:
            values = [f[field] for f in fs if f.get(field) is not None]
            return statistics.median(values) if values else None

        rps = med("rps") or 0.0
        ref = med("rps", hello)
        server, db = med("server_cpu_ms_per_ok"), med("db_cpu_ms_per_ok")
        if (
            key != "hello"
            and db is not None
            # (runs saved before db_backends_kept existed: whether any CPU was seen at all)
            and not any(
                f.get("db_backends_kept", 1 if f.get("db_cpu_ms_per_ok") else 0) for f in figures
            )
        ):
            db = None  # no backend lived through the window: short connections, not counted
        out.append(
            {
                "target": name,
                "key": key,
                "label": figures[0]["label"],
                "repeats": len(figures),
                "rps": rps,
                "ratio": rps / ref if ref else None,
                "median_ms": med("median_ms"),
                "server_ms": server,
                "db_ms": db,
                "total_ms": (server or 0.0) + (db or 0.0) if server is not None else None,
                "errors": sum(f["errors"] for f in figures),
                "exhausted": any(f.get("exhausted_after_s") for f in figures),
            }
        )
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    def num(value: float | None, digits: int) -> str:
        return "—" if value is None else f"{value:.{digits}f}"

    lines = [
        "| server | figure | req/s | ratio to its trivial view | median ms"
        " | server CPU ms/answer | PostgreSQL CPU ms/answer | **CPU ms/answer** |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    unseen = False
    for r in rows:
        note = []
        if r["errors"]:
            note.append(f"{r['errors']} errors")
        if r["exhausted"]:
            note.append("pool ran out")
        # The harness names ENT's client by its (random) id: keep only the description.
        label = re.sub(r"\[[A-Za-z0-9]{30,}: ", "[", r["label"])
        label += f" ({', '.join(note)})" if note else ""
        db, total = num(r["db_ms"], 2), f"**{num(r['total_ms'], 2)}**"
        if r["db_ms"] is None and "(pg" in r["target"] and r["key"] != "hello":
            db, total, unseen = "not seen ¹", f"{num(r['server_ms'], 2)} + ?", True
        lines.append(
            f"| {r['target']} | {label} | {r['rps']:.1f} | {num(r['ratio'], 3)}"
            f" | {num(r['median_ms'], 1)} | {num(r['server_ms'], 2)} | {db} | {total} |"
        )
    if unseen:
        lines.append(
            "\n¹ A connection per request: each PostgreSQL backend lived for one request and"
            " ended between two readings of `/proc`, so its CPU (a fork and an authentication"
            " per request, at least) is not counted."
        )
    return "\n".join(lines)


def write_results(text: str) -> None:
    """Replace the section of the last run; keep what comes before it (``make bench``'s
    figures) and the record of changes measured with this script (HISTORY), after it."""
    path = BENCH / "results.md"
    current = path.read_text() if path.exists() else "# ENT benchmark results\n"
    head, _, rest = current.partition(SECTION + "\n")
    at = rest.find(HISTORY) if rest else current.find(HISTORY)
    history = (rest if rest else current)[at:] if at >= 0 else ""
    if not rest and at >= 0:
        head = current[: current.find(HISTORY)]
    out = f"{head.rstrip()}\n\n{text.strip()}\n"
    if history:
        out += f"\n{history.strip()}\n"
    path.write_text(out)


# --- Main ----------------------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "seed":
        seed()
        return
    if len(sys.argv) > 1 and sys.argv[1] == "mint":
        p = argparse.ArgumentParser(prog="peers.py mint")
        p.add_argument("kind", choices=["cas", "oidc"])
        p.add_argument("n", type=int)
        p.add_argument("--service", default=CAS_SERVICE)
        p.add_argument("--client-id", default="")
        a = p.parse_args(sys.argv[2:])
        mint(a.kind, a.n, a.service)
        return

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--peers-dir",
        default=os.environ.get("ENT_PEERS_DIR", str(ROOT.parent / "shared" / "peers")),
    )
    p.add_argument("--db", default="sqlite,pg", help="sqlite, pg or both (pg: when it answers)")
    p.add_argument("--workers", default="sync,gthread", help="ENT's worker classes to measure")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--figures", default="cas-sv,oidc", help="the harness's --figures")
    p.add_argument("--no-peers", action="store_true", help="ENT alone")
    p.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="ENT_X=VALUE",
        help="measure ENT once more with this setting too (a before/after in one run)",
    )
    p.add_argument("--no-write", action="store_true", help="print only; leave results.md")
    p.add_argument("--json", default=str(VAR / "runs.jsonl"), help="every run, appended")
    p.add_argument(
        "--rewrite", action="store_true", help="rewrite the section from the last run's data"
    )
    args, passed = p.parse_known_args()
    if args.rewrite:
        rewrite(args, passed)
        return
    harness = load_harness(Path(args.peers_dir).resolve())
    dbs = [d for d in args.db.split(",") if d]
    if "pg" in dbs and not pg_available():
        log(f"PostgreSQL does not answer at {POSTGRES}: SQLite only")
        dbs.remove("pg")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = os.getloadavg()[0]
    all_rows = []
    VAR.mkdir(parents=True, exist_ok=True)
    for db in dbs:
        log(f"{db}: preparing ENT's database")
        env = prepare(db)
        argv = ["--db", db, "--repeat", str(args.repeat), "--figures", args.figures]
        out = VAR / f"runs-{db}.jsonl"
        out.unlink(missing_ok=True)
        argv += ["--json", str(out), *passed]
        if args.no_peers:
            argv.append("--no-peers")
        for worker in [w for w in args.workers.split(",") if w]:
            for index, also in enumerate(["", *args.also]):
                path = VAR / f"target-{db}-{worker}{f'-{index}' if index else ''}.json"
                path.write_text(json.dumps(target(db, worker, env, also), indent=2))
                path.chmod(0o600)
                argv += ["--target", str(path)]
        log(f"{db}: the harness, {' '.join(argv)}")
        run_harness(harness, argv)
        runs = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
        with open(args.json, "a") as f:
            f.writelines(json.dumps(r) + "\n" for r in runs)
        all_rows += summary(runs)
    write_section(all_rows, args, dbs, passed, started, f"{load:.2f}", f"{os.getloadavg()[0]:.2f}")


def rewrite(args: argparse.Namespace, passed: list[str]) -> None:
    """The section again from the runs saved by the last run (``--rewrite``)."""
    rows, dbs, started = [], [], ""
    for db in ("sqlite", "pg"):
        path = VAR / f"runs-{db}.jsonl"
        if path.exists():
            runs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            rows += summary(runs)
            dbs.append(db)
            started = started or runs[0]["date"]
    if not rows:
        raise SystemExit(f"no saved runs in {VAR}")
    write_section(rows, args, dbs, passed, started, "(not kept)", "(not kept)")


def write_section(
    all_rows: list[dict[str, Any]],
    args: argparse.Namespace,
    dbs: list[str],
    passed: list[str],
    started: str,
    load_start: str,
    load_end: str,
) -> None:
    table = markdown(all_rows)
    print("\n" + table)
    if args.no_write:
        return
    gunicorn = subprocess.run(
        [str(Path(PYTHON).parent / "gunicorn"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    write_results(
        f"""{SECTION}

Produced by `make bench-peers` (`bench/peers.py` driving `../shared/peers/bench.py`) on
{started}: {", ".join(dbs)}, medians of {args.repeat} repeats, figures `{args.figures}`{" (" + " ".join(passed) + ")" if passed else ""};
load average {load_start} at the start, {load_end} at the end.

{table}

- Each server is one gunicorn worker ({gunicorn}) pinned to CPU 0; the load generator, 8
  keep-alive threads, on CPU 1. The peer (django-cas-server + django-oauth-toolkit, built by
  `../shared/peers/setup.sh`) runs a `sync` worker. "ENT sync" is `ent serve` with the same
  worker class (`GUNICORN_CMD_ARGS="--worker-class sync --threads 1"`); "ENT gthread" is
  `ent serve` as shipped (8 threads). Production settings for ENT (JSON access log, CSP,
  no demo mode); tickets and codes minted by `bench/fixtures.py`, each used once.
- **CPU ms/answer** is the figure to compare: the CPU time of the server's processes per
  successful answer, from `/proc`, plus, on PostgreSQL, that of the database backends
  connected to the target's database and alive through the measured window (the WAL
  writer and checkpointer, shared with the rest of the machine, are left out). The machine is shared and noisy: request rates vary
  by ±15 % or more between runs, so compare ratios and CPU per answer taken in one run.
- Each ratio is to the same server's trivial view (`/hello` for the peer, `/healthz` for
  ENT), behind the same middleware as its CAS and OIDC views.
"""
    )
    print("\nWritten to bench/results.md")


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    main()
