"""Application configuration for ent.sso."""

from django.apps import AppConfig


class SsoConfig(AppConfig):
    """The sso application."""

    name = "ent.sso"
    label = "sso"

    def ready(self) -> None:
        """Connect the CAS server to Django's login and logout signals (single logout)."""
        from . import cas  # noqa: F401
