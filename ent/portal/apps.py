"""Application configuration for ent.portal."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The portal application."""

    name = "ent.portal"
    label = "portal"
