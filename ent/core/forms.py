"""What every form view binds its form to."""

from __future__ import annotations

from django.http import HttpRequest, QueryDict


def posted(request: HttpRequest) -> QueryDict | None:
    """The POST data of a POST, ``None`` otherwise: what to give a form to bind it.

    The usual ``Form(request.POST or None)`` leaves the form unbound when a POST arrives with no
    field at all (a script, a broken client): the page came back blank, with no error saying a
    field was required. A POST is always checked, even an empty one.
    """
    return request.POST if request.method == "POST" else None
