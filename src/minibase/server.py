"""What the HTTP server imports in each worker process: the app, built from the environment."""

from __future__ import annotations

from minibase.app import MinibaseApp, create_app
from minibase.config import load_settings
from minibase.log import configure_logging


def app_from_environment() -> MinibaseApp:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
