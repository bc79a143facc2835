"""Application configuration for ent.helpdesk."""

from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    """The help desk: staff sign-in with TOTP, accounts, update-request queue, dashboard."""

    name = "ent.helpdesk"
    label = "helpdesk"
