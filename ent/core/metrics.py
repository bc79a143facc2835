"""Prometheus metrics (``/metrics``), light enough to count on every request path.

Counters are incremented by the service functions (activation, login, CAS validation, OIDC
token exchange, throttling). Under gunicorn each worker is a process: ``ent serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` before anything imports prometheus_client, the counters then live
in memory-mapped files there, and a scrape adds up every worker. The gauges of the mail queue
and of the other queues (``ent.core.workers``: the directory writer's, when ``ENT_LDAP_URL`` is
set) are computed at scrape time from the database, so they are the same whichever instance
answers.

Only the addresses of ``ENT_METRICS_ALLOWED_NETWORKS`` (default: loopback) may read the page,
and, when ``ENT_METRICS_TOKEN_FILE`` is set, only with that bearer token: anyone else gets a 404.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from .net import client_ip
from .workers import backgrounds

logger = logging.getLogger(__name__)

ACTIVATIONS = Counter(
    "ent_activations", "Activations: started (link mailed) and confirmed (link followed)", ["step"]
)
LOGINS = Counter(
    "ent_logins",
    "Sign-in attempts by result: success, failure, throttled, not_activated",
    ["result"],
)
THROTTLED = Counter(
    "ent_throttled_requests", "Requests refused by throttling, by throttling scope", ["scope"]
)
CAS_VALIDATIONS = Counter(
    "ent_cas_validations",
    "CAS ticket validations by result (success or CAS error code)",
    ["result"],
)
OIDC_TOKEN_EXCHANGES = Counter(
    "ent_oidc_token_exchanges",
    "OpenID Connect token endpoint answers by result (success or OAuth error code)",
    ["result"],
)

# OAuth 2.0 error codes of the token endpoint (RFC 6749 5.2): the only label values kept, so
# a client cannot create new time series by sending odd requests.
OAUTH_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    }
)


class MailQueueCollector(Collector):
    """``ent_mail_queue_depth`` and ``ent_mail_queue_oldest_age_seconds``, read at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from .health import mail_queue_stats_or_none

        stats = mail_queue_stats_or_none()
        if stats is None:  # the mail queue could not be read
            return
        depth, age = stats
        yield GaugeMetricFamily("ent_mail_queue_depth", "Mails waiting to be sent", value=depth)
        yield GaugeMetricFamily(
            "ent_mail_queue_oldest_age_seconds",
            "Age of the oldest mail waiting to be sent (0 when the queue is empty)",
            value=age or 0.0,
        )


class BackgroundQueuesCollector(Collector):
    """The gauges of the registered writers' queues (``Background.stats``), read at scrape time.

    A queue that cannot be read (the database down) leaves its gauges out, as the mail queue's.
    """

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for background in backgrounds():
            if background.stats is None:
                continue
            try:
                gauges = background.stats()
            except Exception:
                logger.warning("%s queue statistics unavailable", background.name, exc_info=True)
                continue
            for gauge in gauges:
                yield GaugeMetricFamily(gauge.name, gauge.documentation, value=gauge.value)


def _allowed(request: HttpRequest) -> bool:
    raw = client_ip(request)
    try:
        address = ipaddress.ip_address(raw or "")
    except ValueError:
        return False
    networks = [ipaddress.ip_network(n, strict=False) for n in settings.METRICS_ALLOWED_NETWORKS]
    if not any(address in net for net in networks):
        return False
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    return True


def render_metrics() -> bytes:
    """The exposition text: every worker's counters (multiprocess) or this process's, + queues."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        counters = generate_latest(registry)
    else:
        counters = generate_latest(REGISTRY)
    scrape = CollectorRegistry()
    scrape.register(MailQueueCollector())
    scrape.register(BackgroundQueuesCollector())
    return counters + generate_latest(scrape)


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``/metrics``: Prometheus text format, for the allowed networks (and token) only."""
    if not _allowed(request):
        raise Http404
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
