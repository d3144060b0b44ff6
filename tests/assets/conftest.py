"""The kept-assets tests' served process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LiveServer, free_port, settings_for, start_server


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    """A served process that copies from loopback; its capture is driven by the tests."""
    settings = settings_for(
        tmp_path, database_url=database_url, port=free_port(), asset_private_addresses=True
    )
    server = start_server(settings)
    yield server
    server.stop()
