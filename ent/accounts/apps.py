"""Application configuration for ent.accounts."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """The accounts application."""

    name = "ent.accounts"
    label = "accounts"

    def ready(self) -> None:
        """Connect the session index to Django's login and logout signals, and the receivers
        of ``lifecycle.account_state_changed`` (sessions ended, open codes revoked).

        Django's own receiver that writes ``Account.last_login`` at each sign-in is
        disconnected: nothing in ENT reads that column (the sign-ins a student and the help
        desk see are the audit records and ``AccountSession``), and it cost an UPDATE per
        sign-in.
        """
        from django.contrib.auth.signals import user_logged_in

        from . import lifecycle, sessions  # noqa: F401

        user_logged_in.disconnect(dispatch_uid="update_last_login")
