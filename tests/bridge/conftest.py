"""Shared fixtures for the BLE bridge tests: emulated wearables on a fake BlueZ, driven by real bleak.

bleak keeps one BlueZ manager per event loop, so every emulator run gets a fresh loop (``asyncio.run``)
and ``DBUS_SYSTEM_BUS_ADDRESS`` points at that run's private bus. Tests that need ``dbus-daemon`` skip
with a message when it is missing (install the Debian package ``dbus``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from anymo.data.datasets import default_data_dir
from firmware_bridge.bluez_fake import find_dbus_daemon

REPO_ROOT = Path(__file__).resolve().parents[2]
NO_DBUS = "dbus-daemon is not installed (apt-get install dbus, as scripts/setup.sh does); fake-BlueZ tests skipped"


def data_dir() -> Path:
    return default_data_dir()  # the one data-folder rule (tests/conftest.py)


@pytest.fixture
def emulate(monkeypatch) -> Callable[..., Any]:
    """``emulate(specs, body, timeout_s=30, **emulator_kwargs)``: start an ``Emulator`` of ``specs`` in a
    fresh event loop, point bleak at it, ``await body(emulator)`` and return its result."""
    if find_dbus_daemon() is None:
        pytest.skip(NO_DBUS)
    from firmware_bridge.emulator import Emulator

    def run(specs, body: Callable[[Emulator], Awaitable[Any]], timeout_s: float = 30.0, **kwargs) -> Any:
        async def main() -> Any:
            async with Emulator(specs, **kwargs) as em:
                monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", em.bus_address)
                return await asyncio.wait_for(body(em), timeout_s)

        return asyncio.run(main())

    return run


@pytest.fixture
def xsens_file() -> Path:
    """A real recording the dataset loaders read (skips when the shared data is absent)."""
    path = data_dir() / "xsens_walking" / "walking_xsens_upperLeg.txt"
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (set ANYMO_DATA)")
    return path
