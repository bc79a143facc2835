"""The webmail pages (ent.webmail.views) on the real mail store (``store`` and ``deliver`` of
tests/webmail/conftest.py): mail goes in through the backend's receiver, sending goes out to a
real SMTP server (``smtp_server``), and what arrived is checked."""

from __future__ import annotations

import email.policy
import re
from collections.abc import Callable
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from ent.accounts.models import Account
from ent.core.models import AuditEvent
from ent.webmail.backends import FolderRole, MailStore, MailStoreError
from tests.conftest import SMTPCatcher, page_text, text_body
from tests.webmail.mails import make_mail
from tests.webmail.test_rendering import hostile_mail

Deliver = Callable[..., None]


@pytest.fixture
def mailbox(new_mailbox: Callable[..., str]) -> str:
    """Sophie Germain's institutional address, her mailbox known to the backend."""
    return new_mailbox(first_name="Sophie", last_name="Germain")


@pytest.fixture
def client_for(mailbox: str) -> Callable[[str], Client]:
    def make(address: str) -> Client:
        client = Client()
        client.force_login(Account.objects.get(student__institutional_email=address))
        return client

    return make


@pytest.fixture
def sophie(client_for: Callable[[str], Client], mailbox: str) -> Client:
    return client_for(mailbox)


def folder_name(store: MailStore, address: str, role: FolderRole) -> str:
    return next(f.name for f in store.folders(address) if f.role == role)


def uids(store: MailStore, address: str, role: FolderRole = FolderRole.INBOX) -> list[str]:
    page = store.messages(address, folder_name(store, address, role), page_size=200)
    return [m.uid for m in page.messages]


def message_url(store: MailStore, address: str, uid: str, suffix: str = "") -> str:
    inbox = folder_name(store, address, FolderRole.INBOX)
    return f"/webmail/folder/{quote(inbox)}/message/{quote(uid)}/{suffix}"


def test_anonymous_goes_to_the_ent_login_and_comes_back(client: Client, mailbox: str) -> None:
    for path in ("/webmail/", "/webmail/compose/", "/webmail/folder/INBOX/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == f"/login?next={quote(path)}"


def test_index_list_and_unread_counts(
    sophie: Client, mailbox: str, deliver: Deliver, store: MailStore
) -> None:
    response = sophie.get("/webmail/")
    assert response.status_code == 302
    inbox_url = response["Location"]
    empty = page_text(sophie.get(inbox_url))
    assert "Ce dossier ne contient aucun message." in empty
    for label in ("Boîte de réception", "Envoyés", "Corbeille", "Brouillons", "Écrire", "Filtres"):
        assert label in empty, label

    deliver(mailbox, make_mail(to=mailbox, subject="Premier", sender="Ada <ada@example.org>"))
    deliver(mailbox, make_mail(to=mailbox, subject="Second <b>", sender="Alan <alan@example.org>"))
    body = page_text(sophie.get(inbox_url))
    assert body.index("Second <b>") < body.index("Premier")  # newest first, escaped
    assert "<b>" not in sophie.get(inbox_url).content.decode().split("Second")[1][:10]
    assert body.count("Non lu") == 2
    # The count in the menu, with words for screen readers.
    assert '2<span class="visually-hidden"> non lus</span>' in body
    assert "Alan" in body and "Ada" in body


def test_paging_and_search(
    sophie: Client, mailbox: str, store: MailStore, settings: Any, deliver: Deliver
) -> None:
    settings.WEBMAIL_PAGE_SIZE = 10
    for i in range(23):
        sender = "Grace <grace@example.org>" if i % 5 == 0 else f"N{i} <n{i}@example.org>"
        deliver(mailbox, make_mail(to=mailbox, subject=f"Sujet numéro {i:02d}", sender=sender))
    base = "/webmail/folder/INBOX/"
    first = page_text(sophie.get(base))
    assert "Sujet numéro 22" in first and "Sujet numéro 13" in first
    assert "Sujet numéro 12" not in first
    assert "Page 1 sur 3" in first and "23 messages." in first
    third = page_text(sophie.get(base, {"page": "3"}))
    assert "Sujet numéro 00" in third and "Sujet numéro 03" not in third
    # A page past the end (messages deleted meanwhile) leads to the last one; junk is page 1.
    assert sophie.get(base, {"page": "99"})["Location"].endswith("page=3")
    assert "Page 1 sur 3" in page_text(sophie.get(base, {"page": "abc"}))
    found = page_text(sophie.get(base, {"q": "grace"}))
    assert "5 messages trouvés pour « grace »." in found
    assert "Sujet numéro 01" not in found
    assert "Sujet numéro 20" in page_text(sophie.get(base, {"q": "numéro 20"}))
    nothing = page_text(sophie.get(base, {"q": "<script>introuvable"}))
    assert "Aucun message de ce dossier ne correspond à « <script>introuvable »" in nothing
    assert b"<script>introuvable" not in sophie.get(base, {"q": "<script>introuvable"}).content


def test_message_view_marks_read_and_unread_button(
    sophie: Client, mailbox: str, store: MailStore, deliver: Deliver
) -> None:
    deliver(
        mailbox,
        make_mail(
            to=mailbox,
            subject="Réunion",
            body="Voir https://example.org/ordre-du-jour <b>gras</b>\n",
            headers={"Cc": "Marie <marie@example.org>"},
        ),
    )
    (uid,) = uids(store, mailbox)
    response = sophie.get(message_url(store, mailbox, uid))
    assert response.status_code == 200
    html = response.content.decode()
    text = page_text(response)
    for expected in ("Réunion", "Alice Martin <alice.martin@example.org>", mailbox, "Marie"):
        assert expected in text
    assert '<a href="https://example.org/ordre-du-jour"' in html  # linkified
    assert "&lt;b&gt;gras&lt;/b&gt;" in html  # text stays text
    assert "<iframe" not in html  # a text message needs no frame
    assert not store.messages(mailbox, "INBOX").messages[0].unread
    response = sophie.post(message_url(store, mailbox, uid, "unread/"))
    assert response.status_code == 302
    assert store.messages(mailbox, "INBOX").messages[0].unread
    assert sophie.get(message_url(store, mailbox, uid, "unread/")).status_code == 405


TIME_RE = re.compile(r'<time datetime="([^"]+)">([^<]+)</time>')


@pytest.mark.parametrize("date_header", ["", "Date: not a date\r\n"])
def test_a_message_without_a_date_is_dated_alike_in_the_list_and_when_opened(
    sophie: Client, mailbox: str, store: MailStore, deliver: Deliver, date_header: str
) -> None:
    """No (readable) Date header: the list shows the arrival time, and so do the message page
    and the forward's quoted header (was « Date — » on the page, an empty date in the forward)."""
    raw = (
        (
            "From: Ada <ada@example.org>\r\n"
            f"To: {mailbox}\r\n"
            "Subject: Sans date\r\n"
            f"{date_header}"
            "Message-ID: <sans-date-{0}@example.org>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Bonjour\r\n"
        )
        .format(len(date_header))
        .encode()
    )
    deliver(mailbox, raw)
    (uid,) = uids(store, mailbox)
    listed = TIME_RE.findall(sophie.get("/webmail/folder/INBOX/").content.decode())
    opened = TIME_RE.findall(sophie.get(message_url(store, mailbox, uid)).content.decode())
    assert len(listed) == 1 and opened == listed
    assert listed[0][0].startswith(str(store.messages(mailbox, "INBOX").messages[0].date)[:4])
    forward = sophie.get(message_url(store, mailbox, uid, "forward/")).content.decode()
    assert f"Date : {listed[0][1]}" in forward


def test_html_message_in_a_sandboxed_frame_with_its_own_policy(
    sophie: Client, mailbox: str, store: MailStore, deliver: Deliver
) -> None:
    deliver(mailbox, hostile_mail())
    (uid,) = uids(store, mailbox)
    page = sophie.get(message_url(store, mailbox, uid))
    html = page.content.decode()
    frame = re.search(r"<iframe[^>]*>", html)
    assert frame, html
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame.group(0)
    assert "1 image distante est bloquée" in page_text(page)
    assert "Afficher les images distantes" in html
    assert "window.pwned" not in html and "evil.example/" not in html

    body = sophie.get(message_url(store, mailbox, uid, "body/"))
    assert body.status_code == 200
    csp = body["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; style-src 'unsafe-inline'; img-src data: 'self';")
    assert "https:" not in csp and "sandbox" in csp and "frame-ancestors 'self'" in csp
    assert body["X-Frame-Options"] == "SAMEORIGIN"
    content = body.content.decode()
    assert "<script" not in content and "evil.example/" not in content and "onload" not in content
    assert "data:image/png;base64," in content

    asked = sophie.get(message_url(store, mailbox, uid, "body/") + "?images=1")
    assert "img-src data: 'self' https:;" in asked["Content-Security-Policy"]
    assert 'src="https://evil.example/track.png"' in asked.content.decode()
    shown = sophie.get(message_url(store, mailbox, uid) + "?images=1")
    assert "images distantes" not in page_text(shown)
    assert "body/?images=1" in shown.content.decode()
    # The main pages themselves forbid framing by others.
    assert page["X-Frame-Options"] == "DENY"


def test_attachments_listed_and_downloaded_safely(
    sophie: Client, mailbox: str, store: MailStore, deliver: Deliver
) -> None:
    message = EmailMessage()
    message["From"] = "prof@example.org"
    message["To"] = mailbox
    message["Subject"] = "Pièces"
    message.set_content("Ci-joint.")
    message.add_attachment(b"%PDF-1.4 notes", maintype="application", subtype="pdf",
                           filename="Notes d'été.pdf")  # fmt: skip
    message.add_attachment(b"<html><script>alert(1)</script>", maintype="text", subtype="html",
                           filename="page.html")  # fmt: skip
    message.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="photo.png")
    deliver(mailbox, message.as_bytes(policy=email.policy.SMTP))
    (uid,) = uids(store, mailbox)
    page = page_text(sophie.get(message_url(store, mailbox, uid)))
    assert "3 pièces jointes" in page
    assert "Notes d'été.pdf" in page and "(application/pdf, 14\xa0octets)" in page
    links = re.findall(
        r'href="([^"]*/attachment/\d+/)"',
        sophie.get(message_url(store, mailbox, uid)).content.decode(),
    )
    assert len(links) == 3
    pdf, page_html, png = (sophie.get(link) for link in links)
    assert pdf.content == b"%PDF-1.4 notes"
    assert pdf["Content-Type"] == "application/octet-stream"
    # RFC 5987: the UTF-8 name percent-encoded, nothing a header could be split with.
    assert (
        pdf["Content-Disposition"] == "attachment; filename*=utf-8''Notes%20d%27%C3%A9t%C3%A9.pdf"
    )
    assert pdf["X-Content-Type-Options"] == "nosniff"
    assert page_html["Content-Type"] == "application/octet-stream"
    assert page_html["Content-Disposition"] == 'attachment; filename="page.html"'
    assert png["Content-Type"] == "image/png"
    assert sophie.get(links[0].replace("/attachment/", "/attachment/9")).status_code == 404


def test_forged_uid_folder_and_another_students_message(
    client_for: Callable[[str], Client],
    mailbox: str,
    new_mailbox: Callable[..., str],
    store: MailStore,
    deliver: Deliver,
) -> None:
    other = new_mailbox(first_name="Emmy", last_name="Noether")
    deliver(other, make_mail(to=other, subject="Secret d'Emmy"))
    (other_uid,) = uids(store, other)
    sophie = client_for(mailbox)
    for path in (
        f"/webmail/folder/INBOX/message/{other_uid}/",  # Emmy's UID in Sophie's inbox
        f"/webmail/folder/INBOX/message/{other_uid}/body/",
        f"/webmail/folder/INBOX/message/{other_uid}/attachment/0/",
        "/webmail/folder/INBOX/message/1234.M5P6.forged/",
        "/webmail/folder/INBOX/message/..%5C..%5Cx/",
        "/webmail/folder/INBOX/message/%00/",
        "/webmail/folder/Nope/",
        f"/webmail/folder/..%2F..%2F{quote(other)}%2FINBOX/",
        f"/webmail/folder/../{other}/INBOX/message/{other_uid}/",
        "/webmail/folder/INBOX/message/1234.M5P6.forged/reply/",
    ):
        response = sophie.get(path)
        assert response.status_code == 404, (path, response.status_code)
        assert "Secret d'Emmy" not in page_text(response)
    response = sophie.post(f"/webmail/folder/INBOX/message/{other_uid}/delete/")
    assert response.status_code == 404
    assert uids(store, other) == [other_uid]


def test_unreachable_store_is_a_clear_503(
    sophie: Client, mailbox: str, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise MailStoreError("connection refused")

    monkeypatch.setattr(type(store), "folders", broken)
    for path in ("/webmail/", "/webmail/folder/INBOX/", "/webmail/compose/"):
        response = sophie.get(path)
        assert response.status_code == 503, path
        assert response["Retry-After"] == "60"
        assert "Messagerie momentanément indisponible" in page_text(response)


def test_a_dovecot_that_does_not_answer_is_a_clear_503(
    sophie: Client, mailbox: str, mail_backend: Any, settings: Any
) -> None:
    """Not a patched method: the IMAP server's port is closed (Dovecot stopped, say)."""
    import socket

    if mail_backend.name != "dovecot":
        settings.MAIL_BACKEND = "dovecot"
        settings.IMAP_MASTER_USER = "ent-master"
        password_file = Path(settings.MAIL_DIR) / "master-password"
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text("not used\n")
        settings.IMAP_MASTER_PASSWORD_FILE = str(password_file)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings.IMAP_URL = f"imap://127.0.0.1:{closed}"
    for path in ("/webmail/", "/webmail/folder/INBOX/", "/webmail/compose/"):
        response = sophie.get(path)
        assert response.status_code == 503, path
        assert "Messagerie momentanément indisponible" in page_text(response)


def test_delete_to_trash_then_for_good(
    sophie: Client, mailbox: str, store: MailStore, deliver: Deliver
) -> None:
    deliver(mailbox, make_mail(to=mailbox, subject="À jeter"))
    (uid,) = uids(store, mailbox)
    response = sophie.post(message_url(store, mailbox, uid, "delete/"))
    assert response.status_code == 302
    assert uids(store, mailbox) == []
    (trashed,) = uids(store, mailbox, FolderRole.TRASH)
    trash = folder_name(store, mailbox, FolderRole.TRASH)
    trash_url = f"/webmail/folder/{quote(trash)}/message/{quote(trashed)}/"
    assert "Supprimer définitivement" in page_text(sophie.get(trash_url))
    confirm = sophie.get(trash_url + "delete/")
    assert "Supprimer définitivement ce message ?" in page_text(confirm)
    assert uids(store, mailbox, FolderRole.TRASH) == [trashed]  # a GET deletes nothing
    response = sophie.post(trash_url + "delete/")
    assert response.status_code == 302
    assert uids(store, mailbox, FolderRole.TRASH) == []
    assert "La corbeille est vide." in page_text(sophie.get(f"/webmail/folder/{quote(trash)}/"))


def test_move_to_another_folder(
    sophie: Client, mailbox: str, store: MailStore, deliver: Deliver
) -> None:
    deliver(mailbox, make_mail(to=mailbox, subject="À classer"))
    (uid,) = uids(store, mailbox)
    drafts = folder_name(store, mailbox, FolderRole.DRAFTS)
    bad = sophie.post(message_url(store, mailbox, uid, "move/"), {"destination": "../x"})
    assert bad.status_code == 404
    response = sophie.post(message_url(store, mailbox, uid, "move/"), {"destination": drafts})
    assert response.status_code == 302
    assert uids(store, mailbox) == [] and len(uids(store, mailbox, FolderRole.DRAFTS)) == 1


def test_compose_sends_through_smtp_with_a_copy_in_sent(
    sophie: Client, mailbox: str, store: MailStore, smtp_server: SMTPCatcher
) -> None:
    assert "De :" in page_text(sophie.get("/webmail/compose/"))
    response = sophie.post(
        "/webmail/compose/",
        {
            "to": "Ada Lovelace <ada@example.org>, alan@example.org",
            "cc": "marie@example.org",
            "subject": "Projet de maths",
            "body": "Bonjour,\r\nvoici le projet.\r\n",
            "attachments": [_upload("projet.txt", b"x = 1\n")],
        },
    )
    assert response.status_code == 302, page_text(response)
    (sent,) = smtp_server.wait_for(1)
    envelope_from, rcpt = smtp_server.envelopes[0]
    assert envelope_from == mailbox
    assert sorted(rcpt) == ["ada@example.org", "alan@example.org", "marie@example.org"]
    assert sent["From"] == f"Sophie Germain <{mailbox}>"
    assert sent["To"] == "Ada Lovelace <ada@example.org>, alan@example.org"
    assert sent["Cc"] == "marie@example.org"
    assert sent["Subject"] == "Projet de maths"
    assert re.fullmatch(r"<[^<>@]+@etudiant\.univ-perp\.fr>", sent["Message-ID"])
    assert text_body(sent).replace("\r\n", "\n") == "Bonjour,\nvoici le projet.\n"
    (attached,) = list(sent.iter_attachments())
    assert attached.get_filename() == "projet.txt" and attached.get_content() == "x = 1\n"
    # The copy in Envoyés is the very message sent.
    (copy_uid,) = uids(store, mailbox, FolderRole.SENT)
    copy = message_from_bytes(
        store.message(mailbox, folder_name(store, mailbox, FolderRole.SENT), copy_uid),
        policy=email.policy.default,
    )
    assert copy["Message-ID"] == sent["Message-ID"]
    event = AuditEvent.objects.get(kind=AuditEvent.Kind.WEBMAIL_MESSAGE_SENT)
    assert event.data["recipients"] == 3 and event.data["message_id"] == sent["Message-ID"]
    assert "maths" not in str(event.data) and "projet" not in str(event.data)


def _upload(name: str, data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="text/plain")


def test_reply_reply_all_and_forward(
    sophie: Client, mailbox: str, store: MailStore, deliver: Deliver, smtp_server: SMTPCatcher
) -> None:
    original = make_mail(
        to=f"{mailbox}, Bob <bob@example.org>",
        subject="Sortie",
        body="On part à 9 h.\nÀ demain.\n",
        headers={"Cc": "carol@example.org", "References": "<older@example.org>"},
    )
    deliver(mailbox, original)
    original_id = message_from_bytes(original, policy=email.policy.default)["Message-ID"].strip()
    (uid,) = uids(store, mailbox)

    form = page_text(sophie.get(message_url(store, mailbox, uid, "reply/")))
    assert "Re: Sortie" in form and "> On part à 9 h." in form
    assert "Alice Martin <alice.martin@example.org>" in form
    everyone = sophie.get(message_url(store, mailbox, uid, "reply-all/")).context["form"]
    assert (
        everyone.initial["to"] == "Alice Martin <alice.martin@example.org>, Bob <bob@example.org>"
    )
    assert everyone.initial["cc"] == "carol@example.org"  # and never Sophie herself

    response = sophie.post(
        message_url(store, mailbox, uid, "reply/"),
        {"to": "alice.martin@example.org", "subject": "Re: Sortie", "body": "D'accord.\n"},
    )
    assert response.status_code == 302
    (answer,) = smtp_server.wait_for(1)
    # (A long Message-ID makes the header fold: compare the unfolded, stripped values.)
    assert answer["In-Reply-To"].strip() == original_id
    assert answer["References"].split() == ["<older@example.org>", original_id]

    forward = sophie.get(message_url(store, mailbox, uid, "forward/")).context["form"]
    assert forward.initial["subject"] == "Fwd: Sortie"
    assert "On part à 9 h." in forward.initial["body"]
    response = sophie.post(
        message_url(store, mailbox, uid, "forward/"),
        {"to": "dan@example.org", "subject": "Fwd: Sortie", "body": "Pour info."},
    )
    assert response.status_code == 302
    forwarded = smtp_server.wait_for(2)[1]
    assert "In-Reply-To" not in forwarded
    (attached,) = list(forwarded.iter_attachments())
    assert attached.get_content_type() == "message/rfc822"
    assert attached.get_content()["Message-ID"].strip() == original_id  # the original, whole


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"to": ""}, "Indiquez au moins un destinataire."),
        ({"to": "pas-une-adresse"}, "Adresse invalide : « pas-une-adresse »"),
        ({"to": "a@example.org, @@, b@"}, "Adresses invalides : « @@ », « b@ »"),
        ({"to": "a@example.org\r\nBcc: victim@example.org"}, "Retirez les retours à la ligne"),
        ({"to": "a@example.org", "subject": "x\r\nBcc: victim@example.org"}, "Retirez les"),
        ({"to": "a@example.org", "cc": "x@example.org\nBcc: v@example.org"}, "Retirez les"),
    ],
)
def test_bad_input_keeps_what_was_typed_and_sends_nothing(
    sophie: Client, mailbox: str, smtp_server: SMTPCatcher, data: dict[str, str], error: str
) -> None:
    typed = {"subject": "Mon objet", "body": "Un long texte à ne pas perdre.", **data}
    response = sophie.post("/webmail/compose/", typed)
    assert response.status_code == 200
    text = page_text(response)
    assert error in text
    assert "Un long texte à ne pas perdre." in text
    assert smtp_server.messages == []
    assert not AuditEvent.objects.filter(kind=AuditEvent.Kind.WEBMAIL_MESSAGE_SENT).exists()


def test_attachments_size_limit(
    sophie: Client, mailbox: str, settings: Any, smtp_server: SMTPCatcher
) -> None:
    settings.WEBMAIL_ATTACHMENTS_MAX_MB = 1
    response = sophie.post(
        "/webmail/compose/",
        {
            "to": "a@example.org",
            "body": "gros",
            "attachments": [_upload("big.bin", b"0" * (1024 * 1024 + 1))],
        },
    )
    text = page_text(response)
    assert "Les pièces jointes dépassent 1 Mo au total" in text
    assert "choisissez-les à nouveau" in text
    assert smtp_server.messages == []


def test_sending_is_throttled_per_account(
    sophie: Client, mailbox: str, settings: Any, smtp_server: SMTPCatcher
) -> None:
    settings.WEBMAIL_SEND_PER_HOUR = 2
    settings.WEBMAIL_RECIPIENTS_PER_HOUR = 5
    ok = {"to": "a@example.org", "subject": "s", "body": "b"}
    assert sophie.post("/webmail/compose/", ok).status_code == 302
    many = {**ok, "to": ", ".join(f"r{i}@example.org" for i in range(5))}
    refused = sophie.post("/webmail/compose/", many)  # 1 + 5 recipients > 5
    assert refused.status_code == 429
    assert "Limite d'envoi atteinte" in page_text(refused)
    assert "r4@example.org" in page_text(refused)  # kept
    assert sophie.post("/webmail/compose/", ok).status_code == 302
    third = sophie.post("/webmail/compose/", ok)
    assert third.status_code == 429
    smtp_server.wait_for(2)
    assert len(smtp_server.messages) == 2
    assert AuditEvent.objects.filter(kind=AuditEvent.Kind.WEBMAIL_SEND_THROTTLED).count() == 2


def test_staff_get_403(mailbox: str, make_staff: Any) -> None:
    client = Client()
    client.force_login(make_staff("agent"))
    assert client.get("/webmail/").status_code == 403


def test_posts_need_csrf(mailbox: str, store: MailStore, deliver: Deliver) -> None:
    deliver(mailbox, make_mail(to=mailbox))
    (uid,) = uids(store, mailbox)
    client = Client(enforce_csrf_checks=True)
    client.force_login(Account.objects.get(student__institutional_email=mailbox))
    assert client.post(message_url(store, mailbox, uid, "delete/")).status_code == 403
    assert client.post("/webmail/compose/", {"to": "a@example.org"}).status_code == 403
    assert uids(store, mailbox) == [uid]


@pytest.mark.parametrize(
    "junk",
    ["", "\x00", "é" * 300, "<script>", "' OR 1=1 --", "%", "../..", "x" * 5000, "\r\n"],
)
def test_bad_input_never_500(
    sophie: Client, mailbox: str, store: MailStore, deliver: Deliver, junk: str
) -> None:
    deliver(mailbox, make_mail(to=mailbox))
    (uid,) = uids(store, mailbox)
    for path, data in (
        ("/webmail/folder/INBOX/", {"q": junk, "page": junk}),
        (message_url(store, mailbox, uid), {"images": junk}),
    ):
        assert sophie.get(path, data).status_code < 500
    for data in ({"to": junk, "cc": junk, "subject": junk, "body": junk}, {"destination": junk}):
        assert sophie.post("/webmail/compose/", data).status_code < 500
        assert sophie.post(message_url(store, mailbox, uid, "move/"), data).status_code < 500
