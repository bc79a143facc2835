"""The webmail pages under ``/webmail/``: folders, message list, message, attachments, writing.

Thin views over the configured ``MailStore`` (``backends.mail_store``), for the signed-in
student only (``student_required``: an anonymous visit goes through the ENT login and comes
back). The mailbox is always the student's own institutional address, taken from the session's
account, never from the request; a folder must be one of that mailbox's folders and a UID must
look like one, so neither can reach another mailbox or a path on disk.

A store that cannot be reached gives a clear page (503), a message that does not exist (a
forged or stale UID) a 404: never a 500.

HTML mail is shown in a sandboxed ``<iframe>`` whose document (``message_body``) carries its
own strict Content-Security-Policy: no script, no form, no plugin, images from ``data:`` (the
message's own ``cid:`` parts) and, only once the student asked, from https.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from email.utils import getaddresses
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import escape
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ent.accounts.models import Account
from ent.accounts.views_selfservice import student_required
from ent.core.net import client_ip
from ent.core.templatetags.ent_dates import format_when

from . import rendering
from .backends import (
    Folder,
    FolderRole,
    MailStore,
    MailStoreError,
    MessageNotFound,
    MessageSummary,
    mail_store,
)
from .forms import ComposeForm
from .sending import SendThrottledError, address, webmail_send

# What a UID may look like (IMAP: digits; Maildir: a key such as 1700000000.M1P2Q3.host).
UID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._,:=+\\-]{0,250}\Z")
QUERY_MAX = 200

ROLE_ORDER = [FolderRole.INBOX, FolderRole.DRAFTS, FolderRole.SENT, FolderRole.JUNK]


def role_label(folder: Folder) -> str:
    """The folder's name for the student: by role, translated; other folders by their name."""
    labels = {
        FolderRole.INBOX: _("Boîte de réception"),
        FolderRole.SENT: _("Envoyés"),
        FolderRole.TRASH: _("Corbeille"),
        FolderRole.DRAFTS: _("Brouillons"),
        FolderRole.JUNK: _("Indésirables"),
    }
    return labels.get(folder.role, folder.name)


def sorted_folders(folders: list[Folder]) -> list[Folder]:
    """Inbox, drafts, sent, junk, the student's own folders by name, and the trash last."""

    def key(folder: Folder) -> tuple[int, str]:
        if folder.role in ROLE_ORDER:
            return ROLE_ORDER.index(folder.role), ""
        if folder.role == FolderRole.TRASH:
            return 99, ""
        return 50, folder.name.lower()

    return sorted(folders, key=key)


class Mailbox:
    """The signed-in student's mailbox for one request: the store and its folders."""

    def __init__(self, request: HttpRequest) -> None:
        user = request.user
        if not isinstance(user, Account) or user.student is None:
            raise Http404
        self.account = user
        self.address = user.student.institutional_email
        self.store: MailStore = mail_store()
        self._folders: list[Folder] | None = None

    @property
    def folders(self) -> list[Folder]:
        """The folders, read once per request."""
        if self._folders is None:
            self._folders = sorted_folders(self.store.folders(self.address))
        return self._folders

    def folder(self, name: str) -> Folder:
        """One folder of this mailbox by name, or 404 (never a path elsewhere)."""
        for folder in self.folders:
            if folder.name == name:
                return folder
        raise Http404

    def by_role(self, role: FolderRole) -> Folder | None:
        """The folder of a role (inbox, sent, trash…), if the mailbox has one."""
        return next((f for f in self.folders if f.role == role), None)

    def raw(self, folder: Folder, uid: str) -> bytes:
        """The raw message, or 404 for a UID that cannot be one."""
        if not UID_RE.match(uid):
            raise Http404
        return self.store.message(self.address, folder.name, uid)

    def dated(
        self, folder: Folder, uid: str, parsed: rendering.ParsedMessage
    ) -> rendering.ParsedMessage:
        """``parsed`` dated as the list dates it: by its ``Date`` header, or when that is
        missing or unreadable, by its arrival in the mailbox."""
        if parsed.date is not None:
            return parsed
        return dataclasses.replace(parsed, date=self.store.arrival(self.address, folder.name, uid))


def webmail_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A webmail page: the signed-in student, no cache, and the store's errors as pages."""

    @never_cache
    @student_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, Mailbox(request), *args, **kwargs)
        except MessageNotFound:
            raise Http404 from None
        except MailStoreError:
            response = render(request, "webmail/unavailable.html", status=503)
            response["Retry-After"] = "60"
            return response

    return wrapper


def nav_items(box: Mailbox, current: str | None = None) -> list[dict[str, Any]]:
    """The folders of the Courrier menu: label, unread count, link, current or not."""
    return [
        {
            "name": f.name,
            "label": role_label(f),
            "unread": f.unread,
            "url": reverse("webmail:folder", args=[f.name]),
            "current": f.name == current,
        }
        for f in box.folders
    ]


def _context(box: Mailbox, current: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"webmail_folders": nav_items(box, current), "mailbox": box.address, **extra}


# --- Folders and messages ---------------------------------------------------------------------


@webmail_view
@require_GET
def index(request: HttpRequest, box: Mailbox) -> HttpResponse:
    """``/webmail/``: the inbox."""
    inbox = box.by_role(FolderRole.INBOX)
    if inbox is None:
        raise MailStoreError("no inbox")
    return redirect("webmail:folder", inbox.name)


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or "1"), 10**6))
    except ValueError:
        return 1


def _folder_url(folder: str, query: str, page: int) -> str:
    """The folder's page ``page`` for the search ``query`` (none if empty)."""
    params = {"page": page, **({"q": query} if query else {})}
    return f"{reverse('webmail:folder', args=[folder])}?{urlencode(params)}"


def _page_link(query: str, number: int) -> str:
    """A link to another page of the list shown, relative to it."""
    params = {**({"q": query} if query else {}), "page": number}
    return f"?{urlencode(params)}"


def _folder_rows(folder: str, summaries: list[MessageSummary]) -> list[dict[str, Any]]:
    """One row per message of the list: its summary, who sent it, its page."""
    return [
        {
            "summary": m,
            "sender": _display_sender(m.sender),
            "url": reverse("webmail:message", args=[folder, m.uid]),
        }
        for m in summaries
    ]


@webmail_view
@require_GET
def folder_view(request: HttpRequest, box: Mailbox, folder: str) -> HttpResponse:
    """A folder: its messages newest first, a page at a time, filtered by ``q`` (sender or
    subject)."""
    current = box.folder(folder)
    query = " ".join(request.GET.get("q", "").split())[:QUERY_MAX]
    page = _page_number(request.GET.get("page"))
    size = settings.WEBMAIL_PAGE_SIZE
    result = box.store.messages(box.address, current.name, page=page, page_size=size, query=query)
    pages = max(1, math.ceil(result.total / size))
    if page > pages:  # a stale link after deletions: the last page instead of an empty one
        return redirect(_folder_url(current.name, query, pages))
    context = _context(
        box,
        current.name,
        folder=current,
        label=role_label(current),
        rows=_folder_rows(current.name, result.messages),
        query=query,
        total=result.total,
        page=page,
        pages=pages,
        previous_url=_page_link(query, page - 1) if page > 1 else None,
        next_url=_page_link(query, page + 1) if page < pages else None,
        is_trash=current.role == FolderRole.TRASH,
    )
    return render(request, "webmail/folder.html", context)


def _display_sender(sender: str) -> str:
    pairs = getaddresses([sender])
    if pairs and (pairs[0][0] or pairs[0][1]):
        return pairs[0][0] or pairs[0][1]
    return sender or _("(expéditeur inconnu)")


def _message_urls(folder: str, uid: str) -> dict[str, str]:
    names = ["message", "message-body", "message-unread", "message-delete", "message-move"]
    names += ["reply", "reply-all", "forward"]
    return {n.replace("-", "_"): reverse(f"webmail:{n}", args=[folder, uid]) for n in names}


@webmail_view
@require_GET
def message_view(request: HttpRequest, box: Mailbox, folder: str, uid: str) -> HttpResponse:
    """A message: headers, text or the frame of its cleaned HTML, attachments, actions.

    Reading marks it read. Remote images stay blocked unless ``images=1`` (the student's
    "Afficher les images distantes" for this message, not remembered).
    """
    current = box.folder(folder)
    parsed = box.dated(current, uid, rendering.parse(box.raw(current, uid)))
    box.store.mark_read(box.address, current.name, uid, True)
    remote = request.GET.get("images") == "1"
    held_back = 0
    if parsed.html is not None:
        held_back = rendering.clean_html(parsed, remote_images=remote).remote_images
    urls = _message_urls(current.name, uid)
    context = _context(
        box,
        current.name,
        folder=current,
        label=role_label(current),
        uid=uid,
        parsed=parsed,
        urls=urls,
        body_url=urls["message_body"] + ("?images=1" if remote else ""),
        remote=remote,
        held_back=held_back,
        attachments=_attachment_links(current, uid, parsed),
        move_targets=_move_targets(box, current),
        is_trash=current.role == FolderRole.TRASH,
    )
    return render(request, "webmail/message.html", context)


def _move_targets(box: Mailbox, current: Folder) -> list[dict[str, str]]:
    """The other folders of the mailbox, where the message may be moved."""
    return [{"name": f.name, "label": role_label(f)} for f in box.folders if f != current]


def _attachment_links(
    current: Folder, uid: str, parsed: rendering.ParsedMessage
) -> list[dict[str, Any]]:
    """Each attachment of the message with the URL that downloads it."""
    return [
        {"a": a, "url": reverse("webmail:attachment", args=[current.name, uid, a.index])}
        for a in parsed.attachments
    ]


# The frame document's policy: nothing but inline style and images from the message itself
# (data:), plus https images once asked. No script, form, plugin, frame, <base>; the sandbox
# directive also applies if the document is opened outside the frame.
BODY_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: 'self'{remote}; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)


# The frame document's own look. Built here rather than in a template: it is not an ENT page
# (ENT's policy forbids inline style; this document's policy allows it, for the mail's own
# style attributes), and nothing but escaped text or nh3's output goes into it.
FRAME_STYLE = (
    "body{margin:.5rem;font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Liberation Sans',"
    "Arial,sans-serif;color:#1a1a1a;background:#fff;line-height:1.4;overflow-wrap:break-word}"
    "img{max-width:100%;height:auto}pre{white-space:pre-wrap;font:inherit}table{max-width:100%}"
    "a{color:#0b3d6e}"
)


def frame_document(body: str) -> str:
    """The whole document of the message frame around already-safe ``body`` HTML."""
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8"><title>Message</title>'
        f"<style>{FRAME_STYLE}</style></head><body>{body}</body></html>"
    )


@xframe_options_sameorigin
@webmail_view
@require_GET
def message_body(request: HttpRequest, box: Mailbox, folder: str, uid: str) -> HttpResponse:
    """The document of the sandboxed frame: the message's HTML cleaned by nh3 (or its text)."""
    current = box.folder(folder)
    parsed = rendering.parse(box.raw(current, uid))
    remote = request.GET.get("images") == "1"
    if parsed.html is not None:
        content = rendering.clean_html(parsed, remote_images=remote).html
        text = None
    else:
        content, text = "", parsed.text or ""
    html = frame_document(content if text is None else f"<pre>{escape(text)}</pre>")
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = BODY_CSP.format(remote=" https:" if remote else "")
    response["Referrer-Policy"] = "no-referrer"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@webmail_view
@require_GET
def attachment(
    request: HttpRequest, box: Mailbox, folder: str, uid: str, index: int
) -> HttpResponse:
    """Download one attachment: always as a file, never rendered by the browser."""
    current = box.folder(folder)
    parsed = rendering.parse(box.raw(current, uid))
    found = next((a for a in parsed.attachments if a.index == index), None)
    if found is None:
        raise Http404
    data = rendering.part_bytes(parsed.parts[index])
    response = HttpResponse(data, content_type=rendering.download_type(found.content_type))
    response["Content-Disposition"] = content_disposition_header(True, found.filename) or (
        "attachment"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Length"] = str(len(data))
    return response


@webmail_view
@require_POST
def message_unread(request: HttpRequest, box: Mailbox, folder: str, uid: str) -> HttpResponse:
    """ "Marquer comme non lu", then back to the folder (opening it again would read it)."""
    current = box.folder(folder)
    if not UID_RE.match(uid):
        raise Http404
    box.store.mark_read(box.address, current.name, uid, False)
    messages.success(request, _("Message marqué comme non lu."))
    return redirect("webmail:folder", current.name)


@webmail_view
@require_http_methods(["GET", "POST"])
def message_delete(request: HttpRequest, box: Mailbox, folder: str, uid: str) -> HttpResponse:
    """Delete: to the Corbeille; in the Corbeille, for good after a confirmation page."""
    current = box.folder(folder)
    in_trash = current.role == FolderRole.TRASH
    if request.method == "GET":
        parsed = rendering.parse(box.raw(current, uid))
        return render(
            request,
            "webmail/confirm_delete.html",
            _context(
                box,
                current.name,
                folder=current,
                label=role_label(current),
                parsed=parsed,
                urls=_message_urls(current.name, uid),
                in_trash=in_trash,
            ),
        )
    if not UID_RE.match(uid):
        raise Http404
    box.store.delete(box.address, current.name, uid)
    if in_trash:
        messages.success(request, _("Message supprimé définitivement."))
    else:
        messages.success(request, _("Message déplacé dans la Corbeille."))
    return redirect("webmail:folder", current.name)


@webmail_view
@require_POST
def message_move(request: HttpRequest, box: Mailbox, folder: str, uid: str) -> HttpResponse:
    """Move to another folder of the same mailbox."""
    current = box.folder(folder)
    destination = box.folder(request.POST.get("destination", ""))
    if not UID_RE.match(uid):
        raise Http404
    if destination.name != current.name:
        box.store.move(box.address, current.name, uid, destination.name)
        messages.success(
            request,
            _("Message déplacé dans « %(folder)s ».") % {"folder": role_label(destination)},
        )
    return redirect("webmail:folder", current.name)


# --- Writing ------------------------------------------------------------------------------------


def _addresses_text(pairs: list[tuple[str, str]]) -> str:
    shown = []
    for name, addr in pairs:
        try:
            shown.append(str(address(name, addr)))
        except (ValueError, IndexError):
            shown.append(addr)
    return ", ".join(shown)


def _prefixed(prefix: str, subject: str) -> str:
    if subject.lower().startswith(prefix.lower()):
        return subject
    return f"{prefix} {subject}".strip()


def _when(parsed: rendering.ParsedMessage) -> str:
    if parsed.date is None:
        return ""
    return format_when(parsed.date)


def _initial(mode: str, parsed: rendering.ParsedMessage, me: str) -> dict[str, str]:
    """What the form starts with for a reply, a reply to all or a forward."""
    original = rendering.body_text(parsed)
    if mode == "forward":
        header_lines = [
            _("---------- Message transféré ----------"),
            _("De : %(v)s") % {"v": parsed.sender},
            _("Date : %(v)s") % {"v": _when(parsed)},
            _("Objet : %(v)s") % {"v": parsed.subject},
            _("À : %(v)s") % {"v": parsed.to},
        ]
        if parsed.cc:
            header_lines.append(_("Cc : %(v)s") % {"v": parsed.cc})
        return {
            "subject": _prefixed("Fwd:", parsed.subject),
            "body": "\n\n" + "\n".join(header_lines) + "\n\n" + original,
        }
    reply_to = parsed.addresses("Reply-To") or parsed.addresses("From")
    to = list(reply_to)
    cc: list[tuple[str, str]] = []
    if mode == "reply-all":
        seen = {a.lower() for _n, a in to} | {me.lower()}
        for header, target in (("To", to), ("Cc", cc)):
            for name, addr in parsed.addresses(header):
                if addr.lower() not in seen:
                    seen.add(addr.lower())
                    target.append((name, addr))
    quoted = "\n".join(f"> {line}" if line else ">" for line in original.splitlines())
    intro = _("Le %(date)s, %(sender)s a écrit :") % {
        "date": _when(parsed),
        "sender": parsed.sender,
    }
    return {
        "to": _addresses_text(to),
        "cc": _addresses_text(cc),
        "subject": _prefixed("Re:", parsed.subject),
        "body": f"\n\n{intro}\n{quoted}\n",
    }


@webmail_view
@require_http_methods(["GET", "POST"])
def compose(request: HttpRequest, box: Mailbox) -> HttpResponse:
    """Écrire: a new message."""
    return _compose(request, box, mode="new")


@webmail_view
@require_http_methods(["GET", "POST"])
def reply(request: HttpRequest, box: Mailbox, folder: str, uid: str) -> HttpResponse:
    """Répondre: to the sender (or Reply-To), the original quoted."""
    return _compose(request, box, mode="reply", folder=folder, uid=uid)


@webmail_view
@require_http_methods(["GET", "POST"])
def reply_all(request: HttpRequest, box: Mailbox, folder: str, uid: str) -> HttpResponse:
    """Répondre à tous: the sender, and the other recipients in copy (never oneself)."""
    return _compose(request, box, mode="reply-all", folder=folder, uid=uid)


@webmail_view
@require_http_methods(["GET", "POST"])
def forward(request: HttpRequest, box: Mailbox, folder: str, uid: str) -> HttpResponse:
    """Transférer: the original inlined as text and attached whole."""
    return _compose(request, box, mode="forward", folder=folder, uid=uid)


def _compose(
    request: HttpRequest, box: Mailbox, *, mode: str, folder: str = "", uid: str = ""
) -> HttpResponse:
    current = box.folder(folder) if folder else box.by_role(FolderRole.INBOX)
    parsed = raw = None
    if mode != "new":
        assert current is not None
        raw = box.raw(current, uid)
        parsed = box.dated(current, uid, rendering.parse(raw))
    status = 200
    if request.method == "POST":
        form = ComposeForm(request.POST, request.FILES)
        if form.is_valid():
            draft = form.draft(original=parsed, raw=raw, forward=mode == "forward")
            try:
                webmail_send(
                    account=box.account, draft=draft, store=box.store, ip=client_ip(request)
                )
            except SendThrottledError as exc:
                form.add_error(None, _send_limit_message(exc))
                status = 429
            else:
                messages.success(request, _("Message envoyé. Une copie est dans « Envoyés »."))
                target = current or box.by_role(FolderRole.INBOX)
                assert target is not None
                return redirect("webmail:folder", target.name)
    else:
        initial = _initial(mode, parsed, box.address) if parsed is not None else {}
        form = ComposeForm(initial=initial)
    original_url = None
    if parsed is not None and current is not None:
        original_url = reverse("webmail:message", args=[current.name, uid])
    return _compose_page(request, box, form, mode, parsed, original_url, status)


def _send_limit_message(exc: SendThrottledError) -> str:
    """Why the message was not sent, and when the student may send again."""
    return (
        _("Limite d'envoi atteinte (%(m)d messages et %(r)d destinataires par heure).")
        % {
            "m": settings.WEBMAIL_SEND_PER_HOUR,
            "r": settings.WEBMAIL_RECIPIENTS_PER_HOUR,
        }
        + " "
        + _("Vous pourrez envoyer à nouveau à %(t)s. Votre message est conservé ci-dessous.")
        % {"t": formats.time_format(timezone.localtime(exc.retry_at), "H:i")}
    )


def _compose_page(
    request: HttpRequest,
    box: Mailbox,
    form: ComposeForm,
    mode: str,
    parsed: rendering.ParsedMessage | None,
    original_url: str | None,
    status: int,
) -> HttpResponse:
    """The Écrire page (also reply, reply to all, forward), with ``form`` bound or not."""
    titles = {
        "new": _("Écrire un message"),
        "reply": _("Répondre"),
        "reply-all": _("Répondre à tous"),
        "forward": _("Transférer"),
    }
    return render(
        request,
        "webmail/compose.html",
        _context(
            box,
            None,
            form=form,
            mode=mode,
            title=titles[mode],
            parsed=parsed,
            files_lost=request.method == "POST" and bool(request.FILES),
            sender=address(box.account.display_name, box.address),
            original_url=original_url,
        ),
        status=status,
    )
