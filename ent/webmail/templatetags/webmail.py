"""``{% webmail_menu %}``: the Courrier menu of every webmail page (folders, Écrire, Filtres).

Pages of ``ent.webmail.views`` put the folders in the context (``webmail_folders``); other
webmail pages (Courrier › Filtres) get them here from the store, and a store that cannot be
reached leaves the menu without folders rather than failing the page.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.http import Http404

register = template.Library()


@register.inclusion_tag("webmail/menu.html", takes_context=True)
def webmail_menu(context: template.Context) -> dict[str, Any]:
    """The menu's folders: from the context, or read from the student's mailbox."""
    folders = context.get("webmail_folders")
    request = context.get("request")
    if folders is None and request is not None:
        from ent.webmail.backends import MailStoreError
        from ent.webmail.views import Mailbox, nav_items

        try:
            folders = nav_items(Mailbox(request))
        except (MailStoreError, Http404):  # the menu never breaks the page around it
            folders = []
    path = request.path if request is not None else ""
    return {"folders": folders or [], "request_path": path}
