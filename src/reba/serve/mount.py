"""Serving reba's app inside another ASGI app (FastAPI or Starlette) under a path prefix.

``parent.mount("/api", app)`` alone routes requests but never runs the mounted app's lifespan
(Starlette runs only the outermost app's), so its micro-batchers never start and every
embedding request fails. ``mount`` also makes the parent's lifespan enter reba's::

    from fastapi import FastAPI
    from reba.serve import create_app, mount

    parent = FastAPI()
    mount(parent, "/api", create_app(configs, settings=settings))   # POST /api/v1/embeddings

Keys, the body limit and error shapes are decided on the path relative to the mount point, so
the prefix opens nothing. Mount before the parent starts; the parent's own lifespan (and the
state it yields) is kept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette


def mount(parent: Starlette, path: str, app: Starlette, *, name: str | None = None) -> None:
    """Mount ``app`` at ``path`` of ``parent`` and run ``app``'s lifespan inside the parent's."""
    if not path.startswith("/") or path.endswith("/"):
        raise ValueError(f"mount path must start and not end with '/', got {path!r}")
    parent.mount(path, app, name=name)
    outer = parent.router.lifespan_context

    @asynccontextmanager
    async def lifespan(parent_app: Any) -> AsyncIterator[Any]:
        async with app.router.lifespan_context(app), outer(parent_app) as state:
            yield state

    parent.router.lifespan_context = lifespan
