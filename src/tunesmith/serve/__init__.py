"""`tunesmith serve`: an HTTP API (FastAPI) and a web page for the model.

`create_app(composer, settings)` builds the app; `uvicorn_target(settings, workers)` says
what to hand to `uvicorn.run` (an app object, or an import string for worker processes).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .limits import SETTINGS_ENV, ServeSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["ServeSettings", "create_app", "default_routers", "uvicorn_target"]


def create_app(composer=None, settings: ServeSettings | None = None, routers=()):
    """The FastAPI app (see `tunesmith.serve.app.create_app`)."""
    from .app import create_app as _create

    return _create(composer, settings, routers)


def default_routers() -> list:
    """The routers `tunesmith serve` adds to the core API: the live stream (`/v1/stream`)."""
    from .streams import stream_router

    return [stream_router()]


def uvicorn_target(settings: ServeSettings, workers: int = 1) -> tuple[FastAPI | str, dict]:
    """(app or import string, extra uvicorn.run options) for `workers` processes.

    The model path is checked here, so a bad model folder is one clear error before the server
    starts; each process then loads the model once, in the app's lifespan.
    """
    from ..errors import BadInputError
    from ..model.config import check_model_folder
    from ..model.folder import resolve_model_dir

    settings = settings.validated()
    if workers < 1:
        raise BadInputError("workers must be at least 1", field="workers")
    if settings.torch_threads is None:
        # The small model's decode loop is many tiny steps: one thread per generation is
        # faster and far steadier than torch's default (measured in docs/SERVE.md).
        settings.torch_threads = 1
    # A bad model folder is one clear line now, not a traceback after "serving on".
    check_model_folder(resolve_model_dir(settings.model))
    # a read timeout for request heads (protocol.py); idle keep-alive connections close after 5 s
    options: dict = {"http": "tunesmith.serve.protocol:TimedH11Protocol", "timeout_keep_alive": 5}
    if workers == 1:
        return create_app(None, settings, default_routers()), options
    os.environ[SETTINGS_ENV] = settings.to_env()  # read by each worker's app factory
    return "tunesmith.serve.app:app_from_env", {**options, "factory": True, "workers": workers}
