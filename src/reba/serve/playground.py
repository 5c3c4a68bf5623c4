"""``GET /playground`` (``reba serve --playground``): a page to try the served configurations.

Plain HTML and a little JavaScript, everything inline (nothing is fetched from the internet).
The page itself holds no data; its fetches go to the server's own routes (``/v1/models``,
``/v1/embeddings``, ``/v1/explain``) with the key typed into it as a Bearer header, so with
keys on it shows nothing without one.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from reba.views.page import asset

PATH = "/playground"


def install_playground(app: FastAPI) -> None:
    page = (
        asset("playground.html")
        .replace("/*STYLE*/", asset("explain.css"))
        .replace("/*RENDERER*/", asset("explain.js"))
    )

    @app.get(PATH, response_class=HTMLResponse, include_in_schema=False)
    async def playground() -> HTMLResponse:
        return HTMLResponse(page)
