"""The ASGI entry point for uvicorn workers: settings come from the environment."""

from __future__ import annotations

from litestar import Litestar

from web.app import create_app
from web.settings import load_settings


def app_factory() -> Litestar:
    return create_app(load_settings())
