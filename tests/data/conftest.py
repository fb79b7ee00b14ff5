from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("ANYMO_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture
def need() -> Callable[[str], Path]:
    """``need(rel)``: path to ``rel`` under the data dir, or skip saying where it should be."""

    def _need(rel: str) -> Path:
        p = DATA_DIR / rel
        if not p.exists():
            pytest.skip(f"real data absent: {p} (set ANYMO_DATA to the shared data folder)")
        return p

    return _need
