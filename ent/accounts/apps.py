"""Application configuration for ent.accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """The accounts application."""

    name = "ent.accounts"
    label = "accounts"
