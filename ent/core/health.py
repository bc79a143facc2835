"""Liveness and readiness for the load balancer.

``/healthz`` (ent.core.views.healthz) says the process answers, and touches nothing else: a
database outage must not make the orchestrator kill and restart every instance. ``/readyz``
says whether this instance can serve: the database answers, Redis answers (with
``ENT_CACHE_URL``), and the mail queue can be read (its depth and age are reported). A deep
queue does not make an instance unready: the queue is shared, every instance would leave the
pool at once, and the web pages still work. 503 with a JSON body naming what failed.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from .redis import redis_client, redis_enabled

logger = logging.getLogger(__name__)


class QueueStatsUnavailableError(Exception):
    """The mail queue exists but could not be read."""


def mail_queue_stats() -> tuple[int, float | None]:
    """(depth, age of the oldest mail in seconds) of the mail queue (``ent.core.mail``)."""
    from . import mail

    try:
        depth, age = mail.mail_queue_stats()
    except Exception as exc:
        raise QueueStatsUnavailableError(str(exc)) from exc
    return int(depth), (float(age) if age is not None else None)


def mail_queue_stats_or_none() -> tuple[int, float | None] | None:
    """``mail_queue_stats``, or None when it cannot be read (for metrics)."""
    try:
        return mail_queue_stats()
    except QueueStatsUnavailableError:
        logger.warning("mail queue statistics unavailable", exc_info=True)
        return None


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> str:
    if not redis_enabled():
        return "not configured (shared state in the database)"
    redis_client().ping()
    return "ok"


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """``/readyz``: 200 when the database, the cache and the mail queue answer; 503 otherwise."""
    checks: dict[str, Any] = {}
    failed: list[str] = []
    try:
        _check_database()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
        failed.append("database")
    try:
        checks["cache"] = _check_cache()
    except Exception as exc:
        checks["cache"] = f"unavailable: {type(exc).__name__}"
        failed.append("cache")
    if "database" in failed:
        checks["mail_queue"] = "unknown (database unavailable)"
    else:
        try:
            depth, age = mail_queue_stats()
            checks["mail_queue"] = {"depth": depth, "oldest_age_seconds": age}
        except QueueStatsUnavailableError as exc:
            # The page is public (load balancers): the cause goes to the log, only its type
            # to the body, as for the database and the cache above.
            cause = exc.__cause__ or exc
            logger.warning("mail queue unreadable: %s", exc)
            checks["mail_queue"] = f"unavailable: {type(cause).__name__}"
            failed.append("mail_queue")
    if failed:
        logger.warning("not ready: %s", ", ".join(failed))
    body = {"status": "unavailable" if failed else "ok", "failed": failed, "checks": checks}
    return JsonResponse(body, status=503 if failed else 200)
