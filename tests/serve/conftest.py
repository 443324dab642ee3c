"""Shared by the serve tests: an app with the stream routes on the tiny model."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tunesmith.api import Composer
from tunesmith.serve import ServeSettings, create_app
from tunesmith.serve.streams import stream_router


@pytest.fixture(scope="module")
def stream_client(tiny_run):
    app = create_app(
        Composer.load(tiny_run), ServeSettings(warmup=False), routers=[stream_router()]
    )
    with TestClient(app) as c:
        yield c
