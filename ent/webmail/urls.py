"""URLs of the webmail, under ``/webmail/``: reading and writing (``views``), then Courrier ›
Filtres (``filters_urls``).

A folder is named by its backend name (``<path:folder>``: IMAP names may hold ``/`` or ``.``);
the views accept only the student's own folders. A message is ``<folder>/<uid>``.
"""

from django.urls import URLPattern, URLResolver, include, path

from . import filters_urls, views

app_name = "webmail"

_message = "folder/<path:folder>/message/<str:uid>/"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.index, name="index"),
    path("compose/", views.compose, name="compose"),
    path(_message + "body/", views.message_body, name="message-body"),
    path(_message + "attachment/<int:index>/", views.attachment, name="attachment"),
    path(_message + "unread/", views.message_unread, name="message-unread"),
    path(_message + "delete/", views.message_delete, name="message-delete"),
    path(_message + "move/", views.message_move, name="message-move"),
    path(_message + "reply/", views.reply, name="reply"),
    path(_message + "reply-all/", views.reply_all, name="reply-all"),
    path(_message + "forward/", views.forward, name="forward"),
    # Greedy <path:folder>: the longer patterns first.
    path(_message, views.message_view, name="message"),
    path("folder/<path:folder>/", views.folder_view, name="folder"),
    # Courrier › Filtres › Transfert (and the automatic reply): ent.webmail.filters_views
    path("filters/", include(filters_urls.urlpatterns)),
]
