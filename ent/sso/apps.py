"""Application configuration for ent.sso."""

from django.apps import AppConfig


class SsoConfig(AppConfig):
    """The sso application."""

    name = "ent.sso"
    label = "sso"

    def ready(self) -> None:
        """Connect the OIDC receivers (back-channel logout, registry deletions)."""
        from . import oidc  # noqa: F401
