"""The web pages the gateway serves: ``/`` (an index), ``/shop/`` (customers:
sign in with a token, browse, order, track live, cancel) and ``/console/``
(operators: stock, prices, recent orders, dead letters, health), with their
scripts and style sheet under ``/assets/``.

The pages are static files (``gateway/web/``: plain HTML, CSS and one ES
module each, no build step). They hold no data and need no token to load;
everything they show comes from the /api/v1 routes, called with the bearer
token the person signs in with (kept in the tab's sessionStorage, never in
a cookie, so no other site can make the browser send it). Each page answer
carries a Content-Security-Policy that allows only this origin's scripts,
styles and connections.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from aiohttp import web

from orderflow.gateway.errors import json_error
from orderflow.gateway.handling import path_id

__all__ = ["ASSETS", "routes"]

PAGES = {"home": "index.html", "shop": "shop.html", "console": "console.html"}
ASSETS = {"pages.css": "text/css", "common.js": "text/javascript", "shop.js": "text/javascript",
          "console.js": "text/javascript"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _file(name: str) -> bytes:
    return resources.files("orderflow.gateway").joinpath("web", name).read_bytes()


def _page(name: str) -> web.Response:
    return web.Response(body=_file(PAGES[name]), content_type="text/html", charset="utf-8",
                        headers=SECURITY_HEADERS)


async def home(request: web.Request) -> web.Response:
    return _page("home")


async def shop(request: web.Request) -> web.Response:
    return _page("shop")


async def console(request: web.Request) -> web.Response:
    return _page("console")


async def asset(request: web.Request) -> web.Response:
    name = path_id(request, "name")  # a dot segment is a 400, as for every other id
    if name not in ASSETS:
        return json_error(404, "not_found", f"no asset {name!r}")
    return web.Response(body=_file(name), content_type=ASSETS[name], charset="utf-8", headers=SECURITY_HEADERS)


def routes() -> list[web.RouteDef]:
    return [web.get("/", home), web.get("/shop/", shop), web.get("/console/", console),
            web.get("/assets/{name}", asset)]
