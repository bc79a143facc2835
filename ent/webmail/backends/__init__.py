"""The configured mail backend (setting ``ENT_MAIL_BACKEND``): ``local`` or ``dovecot``."""

from __future__ import annotations

from django.conf import settings

from .base import (
    Folder,
    FolderRole,
    Forwarding,
    MailStore,
    MailStoreError,
    MessageNotFound,
    MessagePage,
    MessageSummary,
    Vacation,
)

__all__ = [
    "Folder",
    "FolderRole",
    "Forwarding",
    "MailStore",
    "MailStoreError",
    "MessageNotFound",
    "MessagePage",
    "MessageSummary",
    "Vacation",
    "mail_store",
]


def mail_store() -> MailStore:
    """The store of ``settings.MAIL_BACKEND`` (a new, cheap object: connections are per call)."""
    if settings.MAIL_BACKEND == "dovecot":
        from .dovecot import DovecotStore

        return DovecotStore()
    from .local import LocalStore

    return LocalStore()
