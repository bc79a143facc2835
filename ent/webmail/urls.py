"""URLs of the webmail, under ``/webmail/``: reading and writing (``views``), then Courrier ›
Filtres (``filters_urls``)."""

from django.urls import include, path

from . import filters_urls

app_name = "webmail"
urlpatterns: list = [
    # Courrier › Filtres › Transfert (and the automatic reply): ent.webmail.filters_views
    path("filters/", include(filters_urls.urlpatterns)),
]
