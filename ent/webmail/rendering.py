"""Reading a raw message for the webmail: headers, text, cleaned HTML, attachments.

Every backend hands over raw RFC 5322 bytes (``MailStore.message``); this module turns them
into what the pages show, the same way for every backend. A mail is hostile input: parsing
never raises on a malformed message (a header that cannot be decoded is shown as found), and
HTML goes through nh3 (ammonia) with a strict allow-list before it reaches the browser, where
it is still shown only inside a sandboxed frame with its own Content-Security-Policy
(``views.message_body``): the sanitiser is the first wall, not the only one.
"""

from __future__ import annotations

import base64
import html as html_lib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

import nh3

# What an HTML mail may keep: text structure, tables and images; nothing that runs, loads a
# document, submits, or changes the page around the message (forms, frames, objects, SVG,
# MathML, <base>, <meta>, <link>, <style>).
ALLOWED_TAGS = {
    "a", "abbr", "address", "b", "bdi", "bdo", "big", "blockquote", "br", "caption", "center",
    "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "font",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
    "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr",
}  # fmt: skip
# Removed with their content (not just the tag): their text is code or noise, not message.
DROPPED_WITH_CONTENT = {
    "script", "style", "title", "head", "template", "noscript", "svg", "math", "object",
    "embed", "iframe", "frameset", "noembed", "noframes", "xmp", "textarea", "select", "button",
    "audio", "video", "canvas",
}  # fmt: skip
TABLE_ATTRIBUTES = {"width", "height", "bgcolor", "border", "cellpadding", "cellspacing"}
ALLOWED_ATTRIBUTES = {
    "*": {"style", "title", "dir", "lang", "align", "valign"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "table": TABLE_ATTRIBUTES,
    "td": {*TABLE_ATTRIBUTES, "colspan", "rowspan", "nowrap"},
    "th": {*TABLE_ATTRIBUTES, "colspan", "rowspan", "nowrap", "scope"},
    "tr": {"bgcolor"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type", "reversed"},
    "ul": {"type"},
    "li": {"value"},
    "blockquote": {"cite"},
    "q": {"cite"},
}
# CSS properties a mail may set in a ``style`` attribute: colours, fonts, spacing, borders
# and sizes. Nothing that positions (``position: fixed`` overlays a fake login form), layers,
# hides, animates, or can name a URL (``background``, ``border-image``, ``list-style``…).
ALLOWED_STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style",
    "font-weight", "font-variant", "text-align", "text-decoration", "text-indent",
    "text-transform", "line-height", "letter-spacing", "word-spacing", "white-space",
    "vertical-align", "direction", "word-break", "overflow-wrap", "word-wrap",
    "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border", "border-top", "border-right", "border-bottom", "border-left", "border-color",
    "border-style", "border-width", "border-radius", "border-collapse", "border-spacing",
    "width", "max-width", "min-width", "height", "max-height", "min-height",
    "list-style-type", "table-layout", "float", "clear",
}  # fmt: skip
# Even in an allowed property, these make a value able to fetch, run or escape: refused.
_STYLE_FORBIDDEN = re.compile(
    r"url\s*\(|expression|image-set|@import|\\|/\*|javascript:|var\(", re.I
)
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_DATA_IMAGE = re.compile(r"data:image/(png|gif|jpeg|webp);base64,[A-Za-z0-9+/=\s]*\Z", re.I)
# A mail with more MIME parts than this (counted as Content-Type headers) is shown as text.
MAX_PARTS = 1000
# A cid: image above this size is not inlined (the message page must stay light).
INLINE_IMAGE_MAX_BYTES = 5 * 1024 * 1024
# Types a browser could render as active content if served inline: always downloaded as
# application/octet-stream, whatever the message claims.
ACTIVE_TYPES = re.compile(
    r"^(text/(html|xml|xsl|javascript|ecmascript|css|vtt)|application/(.*xml|.*html.*|"
    r"javascript|ecmascript|x-javascript|pdf|x-shockwave-flash|octet-stream)|image/svg.*|"
    r"multipart/.*|message/.*)$",
    re.I,
)

_SAFE_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\Z")


@dataclass(frozen=True)
class Attachment:
    """A part the student can download; ``index`` names it among the message's leaf parts."""

    index: int
    filename: str
    content_type: str
    size: int


@dataclass
class ParsedMessage:
    """What the message page shows of one raw message."""

    message: EmailMessage
    subject: str
    sender: str
    to: str
    cc: str
    reply_to: str
    date: datetime | None
    message_id: str
    references: str
    text: str | None
    html: str | None
    attachments: list[Attachment] = field(default_factory=list)
    parts: list[Message] = field(default_factory=list)

    def addresses(self, header: str) -> list[tuple[str, str]]:
        """(name, address) pairs of an address header; malformed entries are left out."""
        return [(n, a) for n, a in getaddresses([_header(self.message, header)]) if "@" in a]


def parse(raw: bytes) -> ParsedMessage:
    """Parse raw RFC 5322 bytes; never raises on a malformed message."""
    if raw.lower().count(b"content-type:") > MAX_PARTS:
        # Tens of thousands of tiny parts: the email package needs seconds per thousand (minutes
        # for a mail at the receiver's size limit), twice per page view. Shown flat instead.
        return _parse_flat(raw)
    try:
        return _parse(raw)
    except RecursionError:
        # Multiparts nested about a thousand deep: the email package recurses once per level.
        # The headers and the body as it is (MIME structure and all) are still shown.
        return _parse_flat(raw)


def _parse_flat(raw: bytes) -> ParsedMessage:
    """The headers parsed, the body kept as plain text: for a structure too deep to parse."""
    message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)
    _head, _sep, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    return ParsedMessage(
        message=message,
        subject=_header(message, "Subject"),
        sender=_header(message, "From"),
        to=_header(message, "To"),
        cc=_header(message, "Cc"),
        reply_to=_header(message, "Reply-To"),
        date=_date(_header(message, "Date")),
        message_id=_header(message, "Message-ID").strip(),
        references=_header(message, "References"),
        text=body.decode("utf-8", errors="replace"),
        html=None,
    )


def _parse(raw: bytes) -> ParsedMessage:
    message: EmailMessage = message_from_bytes(raw, policy=policy.default)
    parts = list(_leaves(message))
    text_part = _body(message, "plain")
    html_part = _body(message, "html")
    attachments = []
    for index, part in enumerate(parts):
        if part is text_part or part is html_part:
            continue
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part)
        maintype = part.get_content_maintype()
        if disposition != "attachment" and maintype == "text" and not filename:
            continue  # another alternative body, not a file
        if disposition != "attachment" and part.get("Content-ID") and html_part is not None:
            continue  # an inline image of the HTML (cid:), shown in place
        attachments.append(
            Attachment(
                index=index,
                filename=filename or _default_name(part, index),
                content_type=declared_type(part),
                size=len(part_bytes(part)),
            )
        )
    return ParsedMessage(
        message=message,
        subject=_header(message, "Subject"),
        sender=_header(message, "From"),
        to=_header(message, "To"),
        cc=_header(message, "Cc"),
        reply_to=_header(message, "Reply-To"),
        date=_date(_header(message, "Date")),
        message_id=_header(message, "Message-ID").strip(),
        references=_header(message, "References"),
        text=_text(text_part) if text_part is not None else None,
        html=_text(html_part) if html_part is not None else None,
        attachments=attachments,
        parts=parts,
    )


def _leaves(part: Message) -> Any:
    """Every non-multipart part, depth first; an attached message (rfc822) is one leaf."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        for sub in part.get_payload():
            if isinstance(sub, Message):
                yield from _leaves(sub)
    else:
        yield part


def _body(message: EmailMessage, subtype: str) -> Message | None:
    try:
        part = message.get_body(preferencelist=(subtype,))
    except Exception:  # a broken MIME structure: show what can be shown
        return None
    if part is None or part.get_content_subtype() != subtype:
        return None
    return part


def _header(message: Message, name: str) -> str:
    """A header decoded to text, or as found when it cannot be decoded; never CR/LF or another
    control character (a reply reuses it, and the compose form refuses them)."""
    try:
        value = message.get(name)
        text = "" if value is None else str(value)
    except Exception:  # malformed encoded words, bad address syntax…
        raw = [v for k, v in message.raw_items() if k.lower() == name.lower()]
        text = str(raw[0]) if raw else ""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(part: Message) -> str:
    """A text part decoded to str, whatever its (possibly wrong or unknown) charset."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        text = payload.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n")


def part_bytes(part: Message) -> bytes:
    """The decoded content of a leaf part (an attached message as its raw bytes)."""
    if part.get_content_maintype() == "message":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            try:
                return inner[0].as_bytes()
            except Exception:
                return b""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def declared_type(part: Message) -> str:
    """The part's content type when well-formed, else application/octet-stream."""
    content_type = part.get_content_type().lower()
    return content_type if _SAFE_TYPE.match(content_type) else "application/octet-stream"


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    return safe_filename(name)


def safe_filename(name: str) -> str:
    """A file name without directories, control characters or leading dots (may be empty)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '"<>|:*?')
    return name.strip().lstrip(".").strip()[:150]


def _default_name(part: Message, index: int) -> str:
    if part.get_content_type() == "message/rfc822":
        return f"message-{index + 1}.eml"
    return f"piece-jointe-{index + 1}"


def download_type(content_type: str) -> str:
    """The type a download is served with: anything that could render active content (HTML,
    SVG, XML, scripts…) or is unknown becomes application/octet-stream."""
    if ACTIVE_TYPES.match(content_type) or not _SAFE_TYPE.match(content_type):
        return "application/octet-stream"
    return content_type


# --- HTML -----------------------------------------------------------------------------------


@dataclass
class CleanedHtml:
    """The sanitised HTML of a message and how many remote images were held back."""

    html: str
    remote_images: int


def clean_html(parsed: ParsedMessage, *, remote_images: bool) -> CleanedHtml:
    """The message's HTML through nh3 with the allow-lists above.

    ``cid:`` images become ``data:`` URIs taken from the message's own parts (the sandboxed
    frame has no cookie to fetch them with); remote images are removed unless the student asked
    for them (``remote_images``), and then only over https.
    """
    cids = _content_ids(parsed)
    held_back = 0

    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        nonlocal held_back
        if attribute == "style":
            return _clean_style(value)
        if tag == "a" and attribute == "href":
            return value if value.strip().lower().startswith(_LINK_SCHEMES) else None
        if tag == "img" and attribute == "src":
            src = value.strip()
            lowered = src.lower()
            if lowered.startswith("cid:"):
                return cids.get(src[4:].strip("<> ").lower())
            if _DATA_IMAGE.match(src):
                return src
            if lowered.startswith(("http://", "https://", "//")):
                if not remote_images:
                    held_back += 1
                    return None
                return "https://" + src.split("//", 1)[1]
            return None
        if attribute in {"cite"}:
            return value if value.strip().lower().startswith(("http://", "https://")) else None
        return value

    cleaned = nh3.clean(
        parsed.html or "",
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=attribute_filter,
        url_schemes={"http", "https", "mailto", "cid", "data"},
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        filter_style_properties=ALLOWED_STYLE_PROPERTIES,
        strip_comments=True,
    )
    return CleanedHtml(html=cleaned, remote_images=held_back)


def _clean_style(value: str) -> str | None:
    """Keep the declarations of allowed properties whose value cannot fetch or run anything."""
    kept = []
    for declaration in value.split(";"):
        name, sep, val = declaration.partition(":")
        name = name.strip().lower()
        if not sep or name not in ALLOWED_STYLE_PROPERTIES or _STYLE_FORBIDDEN.search(val):
            continue
        kept.append(f"{name}:{val.strip()}")
    return ";".join(kept) or None


def _content_ids(parsed: ParsedMessage) -> dict[str, str]:
    """Content-ID → data: URI of the message's inline raster images."""
    found: dict[str, str] = {}
    for part in parsed.parts:
        cid = _header(part, "Content-ID").strip("<> ").lower()
        content_type = part.get_content_type().lower()
        if not cid or content_type not in {"image/png", "image/gif", "image/jpeg", "image/webp"}:
            continue
        data = part_bytes(part)
        if 0 < len(data) <= INLINE_IMAGE_MAX_BYTES:
            found[cid] = f"data:{content_type};base64,{base64.b64encode(data).decode()}"
    return found


def html_to_text(html: str) -> str:
    """Plain text of an HTML body (to quote it in a reply): tags dropped, lines kept."""
    html = re.sub(r"(?i)<br\s*/?>|</(p|div|tr|li|h[1-6]|blockquote|table)>", "\n", html)
    text = nh3.clean(html, tags=set(), clean_content_tags=DROPPED_WITH_CONTENT)
    text = html_lib.unescape(text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def body_text(parsed: ParsedMessage) -> str:
    """The message as plain text: its text part, or its HTML part made text."""
    if parsed.text is not None:
        return parsed.text
    return html_to_text(parsed.html or "")
