"""The ``ent`` console script: Django's manage.py for this project (``ent migrate`` …)."""

import os
import sys


def main() -> None:
    """Run a Django management command with ENT's settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ent.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A bad ENT_* value: one clear line naming the variable, not a traceback.
        sys.stderr.write(f"ent: configuration error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
