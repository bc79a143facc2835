"""Settings for the test suite: ``ent.settings`` with test defaults for unset ENT_* variables.

Demo mode (no SMTP relay needed; tests that need SMTP start a real one), a fixed secret key
and a throw-away var/ directory. ``ENT_DATABASE_URL`` is left alone, so the same suite runs on
SQLite (default) and PostgreSQL.
"""

import os
import tempfile

os.environ.setdefault("ENT_DEMO", "1")
os.environ.setdefault("ENT_SECRET_KEY", "test-secret-key-that-is-long-enough-for-django-0123456789")
os.environ.setdefault("ENT_VAR_DIR", tempfile.mkdtemp(prefix="ent-test-var-"))
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API + live_server

from ent.settings import *  # noqa: F403

# Several checkouts may run the suite on one PostgreSQL server at once: each names its database.
_test_db_name = os.environ.get("ENT_TEST_DATABASE_NAME")
_default_db = DATABASES["default"]  # noqa: F405
if _test_db_name and _default_db["ENGINE"].endswith("postgresql"):
    _default_db["TEST"] = {"NAME": _test_db_name}
