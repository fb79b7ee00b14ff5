"""Logging is configured once, by `anymo_cli.logs.set_verbosity`: the CLI's own -v and a command's -v both
raise the level through it (a command's logging.basicConfig would be a no-op after the CLI's)."""

from __future__ import annotations

import logging

import pytest

from anymo_cli.logs import level_for, set_verbosity
from anymo_cli.main import main


@pytest.fixture
def root_level():
    """Leave the root logger's level as the test found it."""
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.WARNING)
    yield root
    root.setLevel(before)


def test_verbosity_levels_and_never_quieter(root_level) -> None:
    assert [level_for(n) for n in (0, 1, 2, 5)] == [logging.WARNING, logging.INFO, logging.DEBUG, logging.DEBUG]
    assert set_verbosity(0) == logging.WARNING
    assert set_verbosity(1) == logging.INFO and root_level.level == logging.INFO
    assert set_verbosity(0) == logging.INFO  # a command without -v keeps `anymo -v`'s INFO
    assert set_verbosity(2) == logging.DEBUG


def test_unconfigured_root_gets_one_stderr_handler(root_level, monkeypatch) -> None:
    monkeypatch.setattr(root_level, "handlers", [])  # as in `python -m firmware_bridge.emulate_cli`
    assert set_verbosity(1) == logging.INFO
    set_verbosity(1)
    assert len(root_level.handlers) == 1  # configured once, not once per call


@pytest.mark.parametrize("argv, level", [(["emulate"], logging.WARNING), (["emulate", "-v"], logging.INFO),
                                         (["-v", "emulate"], logging.INFO), (["emulate", "-vv"], logging.DEBUG)])
def test_anymo_emulate_verbose_takes_effect(argv, level, root_level, capsys) -> None:
    """`anymo emulate -v` with nothing to emulate: exit 2 with the message, and the level it asked for."""
    pytest.importorskip("dbus_fast")
    assert main(argv) == 2
    assert "nothing to emulate" in capsys.readouterr().err
    assert root_level.getEffectiveLevel() == level
