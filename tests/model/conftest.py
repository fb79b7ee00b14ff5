"""Shared fixtures of the model tests: a tiny simulated dataset (procedural motion, 4 sensors)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_sim(tmp_path_factory):
    """0.1 h (72 windows) of 4-sensor procedural windows, simulated once per session."""
    from anymo.sim.cli import main as simulate

    out = tmp_path_factory.mktemp("sim") / "tiny"
    rc = simulate(["--out", str(out), "--hours", "0.1", "--seed", "3", "-k", "4", "--no-mocap", "--workers", "1", "--quiet"])
    assert rc == 0
    return out
