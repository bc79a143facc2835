"""Cross-cutting pieces with no business rule of their own."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Throttling, audit log, single-use codes, outgoing mail, clock."""

    name = "ent.core"
    label = "core"
