"""What the HTTP server imports in each worker process: the app, built from the environment."""

from __future__ import annotations

import gc

from minibase.app import MinibaseApp, create_app
from minibase.config import load_settings
from minibase.log import configure_logging

# Python collects its youngest objects every 700 allocations (net of frees) by default. A
# request makes a few hundred objects, nearly all freed at once, and a collection walks every
# young object still alive: those of the requests in flight, again and again. Ten times fewer
# collections: in a served worker under a get-by-id load, the collector's share of the CPU went
# from ~2% to nothing visible (perf); in process, 10% fewer instructions a request (callgrind;
# docs/benchmarks.md). What cycles hold waits a little longer to be freed: a few thousand
# objects at most.
YOUNG_COLLECTION_EVERY = 7_000


def app_from_environment() -> MinibaseApp:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    tune_garbage_collection()
    return app


def tune_garbage_collection() -> None:
    """For a server process: fewer young collections, and what was imported and built so far
    (modules, routes, the app) set aside from the older collections' walks for good."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, old)
    gc.freeze()
