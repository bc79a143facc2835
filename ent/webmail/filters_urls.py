"""URLs of Courrier › Filtres, included by ``ent.webmail.urls`` under ``/webmail/filters/``.

Names are in the ``webmail`` namespace and start with ``filters-``.
"""

urlpatterns: list = []
