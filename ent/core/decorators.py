"""View decorators for pages that carry secrets."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse


def no_referrer(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``Referrer-Policy: no-referrer``: a page whose URL holds a code never leaks it onward.

    SecurityMiddleware only sets its site-wide policy when the view has not set one.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        return response

    return wrapper
