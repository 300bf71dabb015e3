"""What the HTTP server imports in each worker process: the app, built from the environment."""

from __future__ import annotations

from minibase.app import MinibaseApp, create_app
from minibase.config import load_settings


def app_from_environment() -> MinibaseApp:
    return create_app(load_settings())
