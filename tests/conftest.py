"""Fixtures and markers shared by every test: the one data folder, and ``needs_data``.

The shared data folder is `anymo.data.datasets.default_data_dir` (``$ANYMO_DATA``, else
``<repo>/../shared/data``), worked out here once. A test that reads it is marked ``needs_data`` (or is in
a module with ``pytestmark = pytest.mark.needs_data``) and asks for ``data_dir`` or ``need(rel)``; when
the folder is absent it is skipped with a message saying where the data should be.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from anymo.data.datasets import default_data_dir

DATA_DIR = default_data_dir()
ABSENT = "real data absent: {} (set ANYMO_DATA to the shared data folder)"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_data") is not None and not DATA_DIR.is_dir():
        pytest.skip(ABSENT.format(DATA_DIR))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared data folder (tests using it are marked needs_data: skipped when it is absent)."""
    return DATA_DIR


@pytest.fixture(scope="session")
def need() -> Callable[[str], Path]:
    """``need(rel)``: the path of ``rel`` under the data folder, or skip saying where it should be."""

    def _need(rel: str) -> Path:
        p = DATA_DIR / rel
        if not p.exists():
            pytest.skip(ABSENT.format(p))
        return p

    return _need
