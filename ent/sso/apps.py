"""Application configuration for ent.sso."""

from django.apps import AppConfig


class SsoConfig(AppConfig):
    """The sso application."""

    name = "ent.sso"
    label = "sso"

    def ready(self) -> None:
        """Connect the CAS and OIDC receivers (single logout, registry deletions)."""
        from . import cas, oidc  # noqa: F401
