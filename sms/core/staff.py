"""The console's JSON is for operators: staff only, and anyone else gets 403 JSON, never the
admin's login redirect (a script or the console's own fetch would follow it to an HTML page)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

STAFF_ONLY = "staff only: sign in to the admin as staff"


def staff_api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Run ``view`` for an active staff user; answer 403 ``{"error": …}`` to anyone else."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            return JsonResponse({"error": STAFF_ONLY}, status=403)
        return view(request, *args, **kwargs)

    return wrapped
