"""Scale-out of the pytest plugin: CI shards, identical collection on every xdist worker, GPU pinning, remote workers.

Every run is a real ``python -m pytest`` in a directory the test builds, with
real hub repos; the runs that start hubcheck workers (torch, seconds apiece)
are marked slow and kept to one or two entry points.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubcheck.cpu_share import intra_op_threads, usable_cores, workers_at
from hubcheck.device_pinning import Gpu, gpu_kinds, installed_gpus, pinned_gpu, visible_gpus, worker_index
from hubcheck.errors import UsageError
from hubcheck.sharding import Shard, parse_shard, shard_of

REPO_ITEMS = ("import", "dependencies", "entrypoints", "config", "references")

# Records, in every process, the node id of each item as it is collected (before any deselection).
COLLECTION_RECORDER = '''
import json
import os
from pathlib import Path

_ids = []


def pytest_itemcollected(item):
    _ids.append(item.nodeid)


def pytest_collection_finish(session):
    process = os.environ.get("PYTEST_XDIST_WORKER", "controller")
    Path(f"collected-{process}.json").write_text(json.dumps(_ids))
'''

# Records each item's outcome, message and worker, in the controller.
OUTCOME_RECORDER = '''
import json
from pathlib import Path

_items = {}


def pytest_runtest_logreport(report):
    if report.when != "call" and report.passed:
        return
    node = getattr(report, "node", None)
    _items[report.nodeid] = {"outcome": report.outcome, "message": report.longreprtext,
                             "worker": node.gateway.id if node is not None else None}


def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        Path("outcomes.json").write_text(json.dumps(_items))
'''


def static_hub(directory: Path, names: list[str]) -> Path:
    """A hub whose entry points are plain functions (complete statically: collection starts no worker)."""
    directory.mkdir(parents=True)
    functions = "".join(f'\n\ndef {name}():\n    """Linear layer {name}."""\n    return torch.nn.Linear(4, 2)\n'
                        for name in names)
    (directory / "hubconf.py").write_text('"""A generated hub."""\n\nimport torch\n\ndependencies = ["torch"]\n'
                                          + functions)
    (directory / "hubcheck.toml").write_text('[validate]\ndevices = ["cpu"]\n')
    return directory


def run_pytest(directory: Path, *args: str, env: dict[str, str] | None = None,
               timeout: float = 240) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("PYTEST_", "HUBCHECK_", "CUDA_VISIBLE_DEVICES"))}
    environment.update({"PYTHONDONTWRITEBYTECODE": "1", "HUBCHECK_CACHE": str(directory / ".cache"), **(env or {})})
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=directory,
                          env=environment, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def node_ids(completed: subprocess.CompletedProcess) -> list[str]:
    return [line for line in completed.stdout.splitlines() if "::" in line]


# -- shards ---------------------------------------------------------------------------------


def test_a_shard_depends_on_the_name_alone():
    # Fixed values: sha256 of the name, the same on every machine, Python and run (not the salted hash()).
    assert [shard_of(name, 4) for name in ("resnet50", "vit_base_patch16_224", "model_0000")] == [3, 1, 3]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 16])
def test_shards_are_disjoint_and_hold_every_entry_point(count):
    names = [f"model_{index:04d}" for index in range(1500)]
    shards = [Shard(index, count) for index in range(1, count + 1)]
    held = [[name for name in names if shard.holds(name)] for shard in shards]

    assert sorted(name for part in held for name in part) == sorted(names)
    assert all(sum(shard.holds(name) for shard in shards) == 1 for name in names)
    # Balanced as a hash is: within a fifth of the mean on a hub of this size.
    assert all(abs(len(part) - 1500 / count) <= 0.2 * 1500 / count for part in held), [len(p) for p in held]
    assert [shard.holds_repo_items for shard in shards] == [True] + [False] * (count - 1)


def test_adding_entry_points_moves_none_of_the_others():
    before = {f"model_{index:04d}": shard_of(f"model_{index:04d}", 5) for index in range(300)}
    after = {f"model_{index:04d}": shard_of(f"model_{index:04d}", 5) for index in range(600)}
    assert {name: after[name] for name in before} == before


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "a/b", "2", ""])
def test_an_unusable_shard_says_what_to_write(text):
    with pytest.raises(UsageError, match=r"^--hubcheck-shard .*e\.g\. --hubcheck-shard 1/\d+$"):
        parse_shard(text)


def test_parse_shard():
    assert parse_shard(" 2 / 4 ") == Shard(2, 4)


def test_the_shards_of_a_collection_hold_every_item_once(tmp_path: Path):
    names = [f"model_{index:02d}" for index in range(24)]
    static_hub(tmp_path / "hub", names)
    everything = node_ids(run_pytest(tmp_path, "--hubcheck", "hub", "--collect-only", "-q"))
    shards = [run_pytest(tmp_path, "--hubcheck", "hub", "--collect-only", "-q", f"--hubcheck-shard={k}/2")
              for k in (1, 2)]
    parts = [node_ids(shard) for shard in shards]

    assert all(shard.returncode == 0 for shard in shards), [shard.stdout for shard in shards]
    assert sorted(node for part in parts for node in part) == sorted(everything)
    assert len(everything) == len(set(everything)) > 24 * 6
    assert all(f"hub/hubconf.py::{item}" in parts[0] for item in REPO_ITEMS)
    for index, part in enumerate(parts, start=1):
        assert {node.split("::")[1] for node in part if node.count("::") == 2} == {
            name for name in names if shard_of(name, 2) == index}


def test_a_shard_with_nothing_to_check_passes_and_a_bad_one_is_one_line(tmp_path: Path):
    # One entry point, in shard 1 of 3: shard 2 holds neither it nor the repo items.
    assert shard_of("f", 3) == 1
    static_hub(tmp_path / "hub", ["f"])
    empty = run_pytest(tmp_path, "--hubcheck", "hub", "--hubcheck-shard", "2/3")
    bad = run_pytest(tmp_path, "--hubcheck", "hub", "--hubcheck-shard", "4/3")

    assert empty.returncode == 0, empty.stdout
    assert "no tests ran" in empty.stdout
    assert "hubcheck shard 2/3: the entry points whose name hashes to it\n" in empty.stdout
    assert bad.returncode == pytest.ExitCode.USAGE_ERROR
    assert "ERROR: --hubcheck-shard '4/3': K must be between 1 and N (shards count from 1)" in bad.stdout
    assert "Traceback" not in bad.stdout


# -- the same items on every xdist worker -----------------------------------------------------------

# The list depends on the process that imports it: an xdist worker importing it for itself would
# collect items no other worker has. Every import is logged.
PER_PROCESS_HUB = '''\
"""Entry points built at import time, one of them named for the process that imports hubconf."""

import functools
import os

import torch

dependencies = ["torch"]

with open(os.environ["SCALE_IMPORT_LOG"], "a") as log:
    log.write(os.environ.get("PYTEST_XDIST_WORKER", "controller") + "\\n")


def _linear(width):
    return torch.nn.Linear(4, width)


for _name in ("alpha", "beta", "on_" + os.environ.get("PYTEST_XDIST_WORKER", "controller")):
    globals()[_name] = functools.partial(_linear, 2)
'''


@pytest.mark.slow
def test_every_xdist_worker_collects_the_controllers_items(tmp_path: Path):
    (tmp_path / "dynamic").mkdir()
    (tmp_path / "dynamic" / "hubconf.py").write_text(PER_PROCESS_HUB)
    (tmp_path / "dynamic" / "hubcheck.toml").write_text('[validate]\ndevices = ["cpu"]\n')
    # `auto` on the controller's GPUs, two kinds; gw1 would see one other kind if it asked its own.
    static_hub(tmp_path / "gpus", ["model"])
    (tmp_path / "gpus" / "hubcheck.toml").write_text('[validate]\ndevices = ["auto"]\n')
    (tmp_path / "conftest.py").write_text(
        COLLECTION_RECORDER + '\nif os.environ.get("PYTEST_XDIST_WORKER") == "gw1":\n'
                              '    os.environ["HUBCHECK_FAKE_GPUS"] = "0:NVIDIA T4"\n')
    log = tmp_path / "imports.log"
    env = {"SCALE_IMPORT_LOG": str(log), "HUBCHECK_FAKE_GPUS": "0:NVIDIA A100,1:NVIDIA A100,2:NVIDIA H100"}
    # Collected everywhere, then all deselected: nothing runs.
    completed = run_pytest(tmp_path, "--hubcheck", "dynamic", "gpus", "-n", "2", "-m", "not hubcheck", env=env)

    assert "Different tests were collected" not in completed.stdout
    assert completed.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, completed.stdout
    collected = {name: json.loads((tmp_path / f"collected-{name}.json").read_text()) for name in ("gw0", "gw1")}
    assert collected["gw0"] == collected["gw1"]
    ids = collected["gw0"]
    assert [i.split("::")[1] for i in ids if i.startswith("dynamic/") and i.endswith("::docstring")] == [
        "alpha", "beta", "on_controller"]
    assert [i for i in ids if i.startswith("gpus/") and "::forward[" in i] == [
        "gpus/hubconf.py::model::forward[cpu]", "gpus/hubconf.py::model::forward[cuda:0]",
        "gpus/hubconf.py::model::forward[cuda:2]"]
    # Listed once, by the controller's worker: not by each xdist worker.
    assert log.read_text().split() == ["controller"]


def test_auto_collects_one_item_set_per_gpu_kind(tmp_path: Path):
    static_hub(tmp_path / "hub", ["model"])
    (tmp_path / "hub" / "hubcheck.toml").write_text('[validate]\ndevices = ["auto"]\n')

    def devices(fake: str | None, mask: str | None = None) -> list[str]:
        env = {key: value for key, value in (("HUBCHECK_FAKE_GPUS", fake), ("CUDA_VISIBLE_DEVICES", mask)) if value}
        ids = node_ids(run_pytest(tmp_path, "--hubcheck", "hub", "--collect-only", "-q", env=env))
        return [node.split("[")[1].rstrip("]") for node in ids if "::load[" in node]

    assert devices("0:NVIDIA H100,1:NVIDIA H100") == ["cpu", "cuda"]
    assert devices("0:NVIDIA A100,1:NVIDIA H100,2:NVIDIA H100") == ["cpu", "cuda:0", "cuda:1"]
    # The user's mask leaves one kind: the ids are those of a one-kind machine.
    assert devices("0:NVIDIA A100,1:NVIDIA H100,2:NVIDIA H100", mask="2,1") == ["cpu", "cuda"]


# -- GPU pinning -------------------------------------------------------------------------------


def test_a_mask_narrows_and_orders_the_installed_gpus():
    installed = [Gpu("0", "NVIDIA A100", "GPU-aaaa"), Gpu("1", "NVIDIA H100", "GPU-bbbb"),
                 Gpu("2", "NVIDIA H100", "GPU-cccc")]

    def visible(mask: str | None) -> list[Gpu]:
        environ = {} if mask is None else {"CUDA_VISIBLE_DEVICES": mask}
        return visible_gpus(environ, installed=lambda: installed)

    assert visible(None) == installed
    assert visible("2,0") == [Gpu("2", "NVIDIA H100"), Gpu("0", "NVIDIA A100")]
    assert visible("GPU-bb") == [Gpu("GPU-bb", "NVIDIA H100")]
    # CUDA stops at the first entry naming no device.
    assert visible("1,-1,0") == [Gpu("1", "NVIDIA H100")]
    assert visible("") == [] and visible("-1") == []
    assert visible("7") == [Gpu("7", "")]
    assert gpu_kinds(installed) == ["NVIDIA A100", "NVIDIA H100"]
    # Installed GPUs are pinned by UUID (whatever CUDA_DEVICE_ORDER says); masked ones as the mask wrote them.
    assert [g.pin for g in installed] == ["GPU-aaaa", "GPU-bbbb", "GPU-cccc"]
    assert [g.pin for g in visible("2,0")] == ["2", "0"]


def test_workers_share_gpus_round_robin():
    gpus = [Gpu("3", ""), Gpu("5", "")]
    assert [pinned_gpu(gpus, worker) for worker in range(5)] == [gpus[0], gpus[1], gpus[0], gpus[1], gpus[0]]
    assert pinned_gpu([], 0) is None
    assert [worker_index(name) for name in ("gw0", "gw12", "master", "gw")] == [0, 12, None, None]


def test_the_fake_gpu_list_replaces_the_machines():
    assert installed_gpus({"HUBCHECK_FAKE_GPUS": "0:NVIDIA A100, 1:NVIDIA H100"}) == [
        Gpu("0", "NVIDIA A100"), Gpu("1", "NVIDIA H100")]
    assert installed_gpus({"HUBCHECK_FAKE_GPUS": ""}) == []


PINNING_HUB = '''\
"""Entry points that fail saying which GPUs their process was shown."""

import os

import torch

dependencies = ["torch"]


def _shown():
    raise RuntimeError("mask=" + os.environ.get("CUDA_VISIBLE_DEVICES", "unset") + ";")
''' + "".join(f'\n\ndef model_{index}():\n    """Fails with the mask."""\n    return _shown()\n' for index in range(4))


@pytest.mark.slow
def test_each_xdist_worker_is_pinned_to_one_gpu_of_the_users_mask(tmp_path: Path):
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "hubconf.py").write_text(PINNING_HUB)
    (tmp_path / "hub" / "hubcheck.toml").write_text('[validate]\ndevices = ["cpu"]\n')
    (tmp_path / "conftest.py").write_text(OUTCOME_RECORDER)
    completed = run_pytest(tmp_path, "--hubcheck", "hub", "-n", "2", "-k", "load", env={"CUDA_VISIBLE_DEVICES": "5,7"})
    items = json.loads((tmp_path / "outcomes.json").read_text())

    loads = {node: item for node, item in items.items() if "::load[" in node}
    assert len(loads) == 4, completed.stdout
    shown = {item["worker"]: set() for item in loads.values()}
    for item in loads.values():
        shown[item["worker"]].add(re.search(r"mask=([^;]*);", item["message"])[1])
    assert shown == {"gw0": {"5"}, "gw1": {"7"}}, completed.stdout


# -- CPU threads --------------------------------------------------------------------------------

THREADS_HUB = '''\
"""Entry points that fail naming their intra-op threads and the CPU OpenMP's idle threads burn."""

import time

import torch

dependencies = ["torch"]


def _shown():
    threads = torch.get_num_threads()
    # Two threads whatever the share, as the threads model check runs them; then the CPU spent while asleep,
    # which is OpenMP's threads spinning after the last parallel region.
    torch.set_num_threads(2)
    square = torch.randn(256, 256)
    for _ in range(3):
        square @ square
    started = time.process_time()
    time.sleep(0.2)
    raise RuntimeError(f"threads={threads};idle_ms={(time.process_time() - started) * 1000:.1f};")
''' + "".join(f'\n\ndef model_{index}():\n    """Fails with the thread count."""\n    return _shown()\n' for index in range(2))


UNSET_THREADS = {"OMP_NUM_THREADS": "", "MKL_NUM_THREADS": "", "OMP_WAIT_POLICY": ""}
"""The environment of a run that leaves torch's threads and OpenMP's waiting to hubcheck."""


def _threads_hub(directory: Path) -> None:
    directory.mkdir()
    (directory / "hubconf.py").write_text(THREADS_HUB)
    (directory / "hubcheck.toml").write_text('[validate]\ndevices = ["cpu"]\n')


def _threads_seen(tmp_path: Path, *args: str, hub: Path = Path("hub"),
                  env: dict[str, str] | None = None) -> tuple[set[int], list[float]]:
    """The intra-op threads each entry point found, and the CPU milliseconds OpenMP's threads spent idle."""
    (tmp_path / "conftest.py").write_text(OUTCOME_RECORDER)
    completed = run_pytest(tmp_path, "--hubcheck", str(hub), "-k", "load", *args, env=env)
    items = json.loads((tmp_path / "outcomes.json").read_text())
    shown = [re.search(r"threads=(\d+);idle_ms=([\d.]+);", item["message"]) for node, item in items.items()
             if "::load[" in node]
    assert len(shown) == 2 and all(shown), completed.stdout
    return {int(found[1]) for found in shown if found}, [float(found[2]) for found in shown if found]


@pytest.mark.slow
@pytest.mark.skipif(usable_cores() < 2, reason="a share of one core is the one core")
def test_each_of_n_xdist_workers_gets_its_share_of_the_cores_and_no_more(tmp_path: Path):
    _threads_hub(tmp_path / "hub")
    share = max(1, usable_cores() // 2)
    # torch's own default is every core, and it caps OMP_NUM_THREADS there: the user's count must differ from both.
    users = 1 if share > 1 else 2

    threads, idle = _threads_seen(tmp_path, "-n", "2", env=UNSET_THREADS)
    assert threads == {share}
    # Idle threads sleep at once: they do not spin on the other worker's core.
    assert max(idle) < 1.5, idle
    threads, idle = _threads_seen(tmp_path, "-n", "2", env={**UNSET_THREADS, "OMP_NUM_THREADS": str(users)})
    assert threads == {users}
    # The user's count leaves OpenMP as it is, spinning a while (libgomp's default): what the check above would see.
    assert min(idle) > 3, idle


def test_the_cores_are_shared_among_the_workers_of_one_machine():
    from execnet import XSpec

    local, ssh_a, ssh_b = XSpec("popen"), XSpec("ssh=a"), XSpec("ssh=b")
    specs = [local, local, XSpec("popen//python=/other/python"), ssh_a, ssh_a, ssh_b,
             XSpec("socket=10.0.0.5:8888"), XSpec("socket=10.0.0.5:8889")]

    assert [workers_at(specs, spec) for spec in (local, ssh_a, ssh_b, specs[-1])] == [3, 2, 1, 2]
    assert [intra_op_threads(workers, {}, cores=16) for workers in (1, 2, 3, 16, 32)] == [None, 8, 5, 1, 1]
    assert intra_op_threads(4, {"OMP_NUM_THREADS": "2"}, cores=16) is None
    assert intra_op_threads(4, {"MKL_NUM_THREADS": "2"}, cores=16) is None


# -- remote workers ------------------------------------------------------------------------------

WHERE_HUB = '''\
"""One entry point that fails naming where it runs."""

import os
import sys

import torch

dependencies = ["torch"]


def where():
    """Fails with this file's directory and the interpreter."""
    raise RuntimeError("at=" + os.path.dirname(os.path.abspath(__file__)) + ";python=" + sys.executable + ";")
'''


def _where_hub(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "hubconf.py").write_text(WHERE_HUB)
    (directory / "hubcheck.toml").write_text('[validate]\ndevices = ["cpu"]\n')
    return directory


def _git_repo(directory: Path) -> Path:
    _where_hub(directory)
    for command in (["init", "-q", "-b", "main"], ["add", "."],
                    ["-c", "user.name=Hub Check", "-c", "user.email=hub@example.com", "commit", "-q", "-m", "c1"]):
        subprocess.run(["git", *command], cwd=directory, check=True, capture_output=True)
    return directory


def _where(items: dict[str, dict], node: str) -> tuple[str, str]:
    found = re.search(r"at=([^;]*);python=([^;]*);", items[node]["message"])
    assert found, items[node]
    return found[1], found[2]


@contextlib.contextmanager
def _socket_server(remote: Path) -> Iterator[str]:
    """execnet's socket server on loopback, working in ``remote``: yields its ``--tx`` spec."""
    import execnet

    remote.mkdir()
    script = Path(execnet.__file__).parent / "script" / "socketserver.py"
    server = subprocess.Popen([sys.executable, "-u", str(script), "127.0.0.1:0"], cwd=remote, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              env={**os.environ, "HUBCHECK_CACHE": str(remote / "cache")})
    try:
        assert server.stdout is not None
        listening = re.search(r"\('127\.0\.0\.1', (\d+)\)", server.stdout.readline())
        assert listening, "the socket server did not say where it listens"
        yield f"socket=127.0.0.1:{listening[1]}"
    finally:
        server.kill()
        server.wait()


@pytest.mark.slow
def test_a_socket_worker_on_loopback_checks_an_rsynced_repo_and_resolves_a_git_spec(tmp_path: Path):
    local, remote = tmp_path / "local", tmp_path / "remote"
    _where_hub(local / "hub")
    source = _git_repo(tmp_path / "source")
    (local / "conftest.py").write_text(OUTCOME_RECORDER)
    spec = f"git+{source.as_uri()}@main"
    with _socket_server(remote) as socket:
        # xdist rewrites path arguments relative to the rsync roots, which it resolves: absolute paths.
        completed = run_pytest(local, "--hubcheck", str(local / "hub"), "--hubcheck-repo", spec, "-k", "load",
                               "-d", "--tx", socket, "--rsyncdir", str(local / "hub"), "-W", "ignore::DeprecationWarning")
    items = json.loads((local / "outcomes.json").read_text())

    assert set(items) == {"hub/hubconf.py::where::load[cpu]", f"{spec}/hubconf.py::where::load[cpu]"}, \
        completed.stdout
    assert {item["worker"] for item in items.values()} == {"gw0"}
    rsynced, _ = _where(items, "hub/hubconf.py::where::load[cpu]")
    cloned, _ = _where(items, f"{spec}/hubconf.py::where::load[cpu]")
    # The remote checked its own copy, and cloned the git spec into its own cache.
    assert Path(rsynced) == remote / "pyexecnetcache" / "hub"
    assert Path(cloned).is_relative_to(remote / "cache")


@pytest.mark.slow
@pytest.mark.skipif(usable_cores() < 2, reason="a share of one core is the one core")
def test_a_worker_alone_on_its_machine_keeps_every_core(tmp_path: Path):
    # One worker here and one behind a socket server (on loopback, but another machine as far as the specs tell):
    # each is alone where it runs, so neither is given a share, as it would be by the session's two workers.
    _threads_hub(tmp_path / "hub")
    alone = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"], text=True,
                           capture_output=True, check=True, env={**os.environ, **UNSET_THREADS}).stdout
    assert int(alone) != max(1, usable_cores() // 2)
    with _socket_server(tmp_path / "remote") as socket:
        threads, _ = _threads_seen(tmp_path, "-d", "--tx", "popen", "--tx", socket, "--rsyncdir",
                                   str(tmp_path / "hub"), "-W", "ignore::DeprecationWarning", hub=tmp_path / "hub",
                                   env=UNSET_THREADS)
    assert threads == {int(alone)}


@pytest.mark.slow
def test_a_worker_under_another_interpreter(tmp_path: Path):
    # Another virtual environment, seeing this one's packages (hubcheck, pytest-xdist, torch) through a .pth.
    other = tmp_path / "other"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other)], check=True, timeout=60)
    python = other / "bin" / "python"
    site_packages = sysconfig.get_paths()["purelib"]
    other_site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                     capture_output=True, text=True, check=True).stdout.strip())
    (other_site / "outer.pth").write_text(f"import site; site.addsitedir({site_packages!r})\n")
    _where_hub(tmp_path / "hub")
    (tmp_path / "conftest.py").write_text(OUTCOME_RECORDER)
    completed = run_pytest(tmp_path, "--hubcheck", "hub", "-k", "load", "-d", "--tx", f"popen//python={python}")
    items = json.loads((tmp_path / "outcomes.json").read_text())

    assert list(items) == ["hub/hubconf.py::where::load[cpu]"], completed.stdout
    _, interpreter = _where(items, "hub/hubconf.py::where::load[cpu]")
    # The hubcheck worker runs under the xdist worker's interpreter: the other environment's.
    assert Path(interpreter).parent.parent == other, interpreter
