"""`anymo simulate --dask`: the units on a Dask cluster (2 local worker processes) give the same shards as one
process; a bad address, an unreachable scheduler, --workers with --dask and a missing dask are clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed", reason="needs the 'cluster' extra (dask[distributed])")

from dask.distributed import get_task_stream  # noqa: E402

from anymo.sim.cli import main as simulate_main  # noqa: E402
from anymo.sim.config import DatasetConfig  # noqa: E402
from anymo.sim.dask_pool import ClusterError, DaskUnits, _worker_state, differing_code, parse_spec  # noqa: E402
from anymo.sim.dataset import generate_dataset  # noqa: E402
from anymo.sim.shards import load_shards  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# 0.02 h = 72 s -> 14 windows of 5 s; units of 15 s -> 5 units (3, 3, 3, 3, 2 windows); 4 windows per shard
CLI_ARGS = ["--hours", "0.02", "--seed", "7", "-k", "3", "--unit-s", "15", "--shard-windows", "4", "--no-mocap", "-q"]
CFG = DatasetConfig(hours=0.02, seed=7, sensors_per_window=3, unit_s=15.0, shard_windows=4, sources=("procedural",))


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 worker processes, 1 thread each, no dashboard (what `--dask local:2` starts)."""
    with DaskUnits("local:2") as runner:
        yield runner


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("single") / "ds"
    return out, generate_dataset(CFG, out, workers=1)


def test_dask_cluster_gives_the_single_process_shards(cluster, single, tmp_path) -> None:
    out1, m1 = single
    with get_task_stream(cluster.client) as stream:
        m2 = generate_dataset(CFG, tmp_path / "dask", runner=cluster)
    ran_on = {t["worker"] for t in stream.data if "anymo-sim-unit" in str(t["key"])}
    assert len(ran_on) == 2, ran_on  # both worker processes simulated units
    assert m2["workers"] == 2 and m2["cluster"] == {"backend": "dask", "scheduler": "local", "workers": 2, "threads": 2}
    assert m2["counts"] == m1["counts"] and m1["counts"]["shards"] == 4
    a1 = list(load_shards(out1).iter_shards(verify=True))
    a2 = list(load_shards(tmp_path / "dask").iter_shards(verify=True))
    for a, b in zip(a1, a2, strict=True):
        for k in a:
            assert np.array_equal(a[k], b[k]), k
    assert [s["digest"] for s in m2["shards"]] == [s["digest"] for s in m1["shards"]]


def test_cli_dask_address_gives_the_single_process_shards(cluster, single, tmp_path, capsys) -> None:
    _, m1 = single
    assert cluster.address.startswith("tcp://")
    assert simulate_main(["--out", str(tmp_path / "cli"), *CLI_ARGS, "--dask", cluster.address]) == 0
    m = load_shards(tmp_path / "cli").manifest
    assert m["cluster"]["scheduler"] == cluster.address and m["workers"] == 2
    assert [s["digest"] for s in m["shards"]] == [s["digest"] for s in m1["shards"]]


def test_workers_report_the_code_they_run(cluster) -> None:
    """The check before the first unit: each worker's loaded simulator code matches this checkout; a changed file
    would be named."""
    cluster.check(CFG)
    for state in cluster.client.run(_worker_state, CFG).values():
        assert {"sim/unit.py", "sim/simulate.py", "sim/imu.py", "motion/procedural/__init__.py"} <= set(state["code"])
        assert differing_code(state["code"]) == []
        assert differing_code({**state["code"], "sim/imu.py": "0" * 64}) == ["sim/imu.py"]
        assert state["sources"] == {"procedural": {}}


@pytest.mark.parametrize("spec, message", [
    ("local:0", "local:N takes a number of worker processes >= 1"),
    ("local:two", "local:N takes a number"),
    ("myhost", "takes a scheduler address"),
])
def test_bad_dask_spec_is_a_clear_error(spec, message, tmp_path, capsys) -> None:
    with pytest.raises(ValueError, match=message):
        parse_spec(spec)
    assert simulate_main(["--out", str(tmp_path / "ds"), *CLI_ARGS, "--dask", spec]) == 2
    err = capsys.readouterr().err
    assert message in err and not (tmp_path / "ds").exists()


def test_workers_with_dask_is_refused(tmp_path, capsys) -> None:
    assert simulate_main(["--out", str(tmp_path / "ds"), *CLI_ARGS, "--dask", "local:2", "--workers", "2"]) == 2
    assert "--workers and --dask exclude each other" in capsys.readouterr().err and not (tmp_path / "ds").exists()


def test_unreachable_scheduler_is_a_clear_error() -> None:
    with pytest.raises(ClusterError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9 .*dask scheduler"):
        DaskUnits("tcp://127.0.0.1:9", connect_timeout_s=1)


def test_missing_dask_names_the_cluster_extra_in_one_line(tmp_path) -> None:
    blocked = ("import importlib.abc, sys\n"
               "class _Block(importlib.abc.MetaPathFinder):\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name.split('.')[0] in ('dask', 'distributed'):\n"
               "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
               "sys.meta_path.insert(0, _Block())\n"
               "from anymo_cli.main import main\n"
               "sys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", blocked, "simulate", "--out", str(tmp_path / "ds"), *CLI_ARGS, "--dask", "local:2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert "'cluster'" in lines[0] and "anymo-edge[cluster]" in lines[0] and "dask" in lines[0], lines[0]
    assert not (tmp_path / "ds").exists()
