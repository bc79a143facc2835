"""Django application of the webmail."""

from django.apps import AppConfig


class WebmailConfig(AppConfig):
    """The webmail and its mail backends."""

    name = "ent.webmail"
    label = "webmail"
    verbose_name = "Webmail"
