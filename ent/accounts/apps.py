"""Application configuration for ent.accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """The accounts application."""

    name = "ent.accounts"
    label = "accounts"

    def ready(self) -> None:
        """Connect the session index to Django's login and logout signals."""
        from . import sessions  # noqa: F401
