"""URLs of Courrier › Filtres, included by ``ent.webmail.urls`` under ``/webmail/filters/``.

Names are in the ``webmail`` namespace: ``filters`` (the list), then ``filters-…``.
"""

from django.urls import URLPattern, URLResolver, path

from . import filters_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", filters_views.filters, name="filters"),
    path("forwarding/", filters_views.forwarding_page, name="filters-forwarding"),
    path("forwarding/remove", filters_views.forwarding_remove, name="filters-forwarding-remove"),
    # The link mailed to a new forwarding address (BASE_URL/webmail/filters/forwarding/confirm).
    path("forwarding/confirm", filters_views.forwarding_confirm, name="filters-forwarding-confirm"),
    path("vacation/", filters_views.vacation_page, name="filters-vacation"),
    path("vacation/remove", filters_views.vacation_remove, name="filters-vacation-remove"),
]
