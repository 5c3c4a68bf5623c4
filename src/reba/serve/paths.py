"""Which route a request is for, relative to the app's root, and which routes are open.

A request's route is decided as Starlette's router decides it: the path with the app's
``root_path`` removed (set by a parent app's ``mount`` or by ``reba serve --root-path`` behind a
proxy). Keys, error shapes and metrics all use this path, so a prefix can neither open a route
nor change how it answers.
"""

from __future__ import annotations

from starlette._utils import get_route_path
from starlette.types import Scope

from reba.serve.tei_schemas import TEI_PATHS

# Routes that never need a key: health checks, the API documentation and its schema, and the
# playground page (served only with --playground; it holds no data, and every fetch it makes
# carries the key typed into it).
OPEN_PATHS = frozenset(
    {"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/playground"}
)
METRICS_PATH = "/metrics"


def route_path(scope: Scope) -> str:
    """The request's path relative to the app's root (what the router matches)."""
    return get_route_path(scope) or "/"


def is_open(path: str, *, public_metrics: bool) -> bool:
    """Whether a route path is served without a key (everything else needs one)."""
    return path in OPEN_PATHS or (public_metrics and path == METRICS_PATH)


def is_tei(path: str) -> bool:
    """Whether a route path is a TEI route (answered in TEI's error shape)."""
    return path in TEI_PATHS
