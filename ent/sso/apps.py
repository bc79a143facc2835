"""Application configuration for ent.sso."""

from django.apps import AppConfig


class SsoConfig(AppConfig):
    """The sso application."""

    name = "ent.sso"
    label = "sso"
