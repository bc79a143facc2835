"""Application configuration for ent.directory."""

from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    """The directory application."""

    name = "ent.directory"
    label = "directory"
