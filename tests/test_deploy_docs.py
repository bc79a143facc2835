"""The deployment examples of docs/deploy/ would work as written (no nginx or systemd here to
try them: their lines are read against what ENT needs)."""

from __future__ import annotations

import re
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy"


def test_nginx_takes_the_largest_webmail_message() -> None:
    """A body above client_max_body_size gets nginx's 413 before ENT sees it: the webmail's
    attachments (ENT_WEBMAIL_ATTACHMENTS_MAX_MB, 10 MB by default) plus the form must fit."""
    conf = (DEPLOY / "nginx-ent.conf").read_text()
    [size] = re.findall(r"^\s*client_max_body_size\s+(\d+)m;", conf, re.MULTILINE)
    assert int(size) > 10


def test_nginx_directives_exist_in_debian_12s_nginx() -> None:
    """``http2 on;`` appeared in nginx 1.25.1; Debian 12 ships 1.22 (``nginx -t`` fails)."""
    conf = (DEPLOY / "nginx-ent.conf").read_text()
    assert not re.search(r"^\s*http2\s+on;", conf, re.MULTILINE)
    assert re.search(r"^\s*listen 443 ssl http2;", conf, re.MULTILINE)


def test_nginx_retries_a_503_as_its_comment_says() -> None:
    conf = (DEPLOY / "nginx-ent.conf").read_text()
    [line] = re.findall(r"^\s*proxy_next_upstream\s+([^;]*);", conf, re.MULTILINE)
    assert "http_503" in line.split() and "non_idempotent" not in line


def test_every_process_has_its_unit_and_the_web_can_write_the_local_mailboxes() -> None:
    """``ent worker`` has a unit file beside the others; the web instance writes the local
    backend's Maildir (the copy in "Envoyés", the forwarding rule) under ProtectSystem=strict."""
    worker = (DEPLOY / "ent-worker.service").read_text()
    assert "ExecStart=/srv/ent/.venv/bin/ent worker" in worker
    web = (DEPLOY / "ent-web.service").read_text()
    assert "ProtectSystem=strict" in web
    assert re.search(r"^ReadWritePaths=.*-/srv/ent/var/mail\b", web, re.MULTILINE)
