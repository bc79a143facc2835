"""Application configuration for ent.directory."""

from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    """The directory application."""

    name = "ent.directory"
    label = "directory"

    def ready(self) -> None:
        """Connect the directory writer's queue (``queue``) to the account state machine's
        signal and to the saves of accounts and student records; register the writer and its
        queue's gauges (``/metrics``) with ``ent.core.workers``."""
        from ent.core.workers import Background, background_register

        from . import queue, selectors

        background_register(
            Background(
                name="directory",
                enabled=queue.directory_enabled,
                start=queue.directory_worker_thread,
                run_batch=queue.directory_queue_run,
                stats=selectors.directory_gauges,
            )
        )
