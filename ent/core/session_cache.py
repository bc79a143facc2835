"""Sessions in Redis (``ENT_CACHE_URL``) that fail loudly when Redis is down.

Django's cache session store treats any error while reading as "no session": during a Redis
outage every student would silently appear signed out, and a form sent then would start a
fresh anonymous session. Here an unreachable Redis is an outage like a database one: the
request gets the "service momentanément indisponible" page (ent.core.errors) and the student
is still signed in once Redis is back.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore

from .errors import OUTAGE_ERRORS


class SessionStore(CacheSessionStore):
    """Django's cache session store, except that an outage is raised, not taken as logout."""

    def load(self) -> dict[str, Any]:
        """The session's data; {} (a new session) only when Redis says there is none."""
        try:
            session_data = self._cache.get(self.cache_key)  # type: ignore[attr-defined]
        except OUTAGE_ERRORS:
            raise
        except Exception:  # an invalid key, as in Django's own store (#17810)
            session_data = None
        if session_data is not None:
            return session_data  # type: ignore[no-any-return]
        self._session_key = None
        return {}
