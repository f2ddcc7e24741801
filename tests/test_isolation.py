"""Kernel-enforced isolation: the worker's network namespace, the repo's overlay, the audit hook, the reports.

A hub repo written by the tests probes the worker from inside: each entry point
does one thing repo code might (list interfaces, connect through ctypes, from a
child process, after patching the guard) and raises what happened, so that the
result arrives in the load check's message of a real ``hubcheck validate``.
Every connection goes to a server this test binds on all addresses of this
machine, at one of this machine's own non-loopback addresses: nothing is ever
sent off the machine, and a run with ``--allow-network`` proves each probe
reaches that server when nothing isolates it. Another entry point rewrites its
repo and tries to undo the overlay or reach the repo through another process.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubcheck.isolation import Isolation, probe
from hubcheck.worker import namespaces
from tests.helpers import PROJECT, Run, file_digests, hubcheck, write_repo

_PROBE = re.compile(r"PROBE (?P<json>.*?) END")

HUBCONF = '''
"""Entry points that report what the worker's network looks like from inside, by raising it."""

import ctypes
import errno
import json
import os
import socket
import struct
import subprocess
import sys
import time

dependencies = ["torch"]

HOST, PORT = {host!r}, {port}


def _report(result):
    raise RuntimeError("PROBE " + json.dumps(result) + " END")


def interfaces():
    """The network interfaces the worker sees, and whether a loopback server answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    _report({{"interfaces": sorted(name for _, name in socket.if_nameindex()), "loopback": "connected"}})


def c_connect():
    """connect(2) through ctypes: no Python socket, no audit event."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    address = struct.pack("=H", socket.AF_INET) + struct.pack("!H", PORT) + socket.inet_aton(HOST) + bytes(8)
    started = time.monotonic()
    result = libc.connect(fd, ctypes.c_char_p(address), len(address))
    elapsed = time.monotonic() - started
    code = ctypes.get_errno()
    libc.close(fd)
    _report({{"result": "connected" if result == 0 else errno.errorcode.get(code, str(code)), "seconds": elapsed}})


def child_connect():
    """A child interpreter connects: the worker's audit hook is not in it."""
    code = f"import socket; socket.create_connection(({{HOST!r}}, {{PORT}}), timeout=5); print('connected')"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    _report({{"result": (child.stdout + child.stderr).strip().splitlines()[-1]}})


def patched_guard():
    """Disarm the audit hook every way Python offers, then connect from Python."""
    guard = sys.modules["_hubcheck_worker.netguard"]
    guard._is_loopback = lambda host: True
    refused = []
    for function in (guard._audit, guard._audit.__defaults__[0]):
        try:
            function.__code__ = (lambda *args: True).__code__
        except PermissionError as error:
            refused.append(str(error))
    try:
        socket.create_connection((HOST, PORT), timeout=5).close()
        result = "connected"
    except OSError as error:
        result = f"{{type(error).__name__}}: {{error}}"
    _report({{"result": result, "refused": refused}})


def rewrite_repo():
    """Change the repo's files, then try to take the overlay off and to reach the repo outside it."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "data.txt"), "w") as handle:
        handle.write("changed by repo code")
    with open(os.path.join(here, "new.txt"), "w") as handle:
        handle.write("created by repo code")
    os.remove(os.path.join(here, "hubcheck.toml"))
    seen = sorted(os.listdir(here)), open(os.path.join(here, "data.txt")).read()
    try:
        open(os.path.join(here, "hubcheck_refs", "forged.safetensors"), "w").close()
        forged = "written"
    except OSError as error:
        forged = errno.errorcode[error.errno]
    libc = ctypes.CDLL(None, use_errno=True)
    unmounted = [libc.umount2(here.encode(), flags) == 0 or errno.errorcode[ctypes.get_errno()] for flags in (0, 2)]
    try:
        open(f"/proc/1/root{{here}}/data.txt", "a").close()
        outside = "opened"
    except OSError as error:
        outside = errno.errorcode[error.errno]
    _report({{"seen": seen, "forged reference": forged, "unmount": unmounted, "through /proc/1/root": outside}})


def trace_server():
    """Open the memory and environment of the worker's server, which forks the judge, as a debugger would."""
    found = {{}}
    for name in ("mem", "environ"):
        try:
            open(f"/proc/{{os.getppid()}}/{{name}}", "rb").close()
            found[name] = "opened"
        except OSError as error:
            found[name] = errno.errorcode[error.errno]
    _report(found)
'''

TOML = """
[validate]
devices = ["cpu"]
timeout = 30
"""


def _host_address() -> str | None:
    """One of this machine's own non-loopback IPv4 addresses (its local routes), or None."""
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
    except OSError:
        return None
    for previous, line in itertools.pairwise(lines):
        address = previous.strip().removeprefix("|-- ")
        if line.strip() == "/32 host LOCAL" and not address.startswith("127."):
            return address
    return None


@pytest.fixture(scope="module")
def isolation() -> Isolation:
    """What a worker gets on this machine, asked the way the plugin's header asks."""
    return probe()


@pytest.fixture(scope="module")
def namespace(isolation: Isolation) -> None:
    if isolation.network != namespaces.NETWORK_NAMESPACE:
        pytest.skip(f"no network namespace for the worker here: {isolation.reason}")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, socket.socket]]:
    """A listening socket on every address of this machine, and the non-loopback address to reach it at."""
    host = _host_address()
    if host is None:
        pytest.skip("this machine has no non-loopback address to connect to without leaving it")
    with socket.create_server(("0.0.0.0", 0), backlog=16) as listener:
        listener.setblocking(False)
        yield host, listener


@pytest.fixture(scope="module")
def probe_repo(tmp_path_factory, server) -> Path:
    host, listener = server
    root = tmp_path_factory.mktemp("isolation") / "repo"
    return write_repo(root, {"hubconf.py": HUBCONF.format(host=host, port=listener.getsockname()[1]),
                             "hubcheck.toml": TOML, "data.txt": "as committed", "hubcheck_refs/.keep": ""})


def _validate(repo: Path, *args: str) -> tuple[dict, dict[str, dict]]:
    """``hubcheck validate --format json``: the report's environment and what each entry point's probe found."""
    run = hubcheck("validate", str(repo), "--format", "json", *args, timeout=300)
    assert run.code == 1, run.stderr
    report = json.loads(run.stdout)
    probes = {}
    for check in report["checks"]:
        if check["check"] == "load":
            found = _PROBE.search(check["message"])
            probes[check["entrypoint"]] = json.loads(found["json"]) if found else {"message": check["message"]}
    return report["environment"], probes


def _accepted(listener: socket.socket) -> int:
    """How many connections reached the server since the last call."""
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


@pytest.fixture(scope="module")
def blocked(probe_repo: Path, server) -> tuple[dict, dict[str, dict], int]:
    """The probes with the network blocked (the default), and how many connections reached the server."""
    _accepted(server[1])
    before = file_digests(probe_repo)
    environment, probes = _validate(probe_repo)
    assert file_digests(probe_repo) == before, "repo code changed the repo"
    return environment, probes, _accepted(server[1])


def test_report_names_the_isolation_that_held(blocked, isolation: Isolation, probe_repo: Path):
    """environment.isolation is what the worker entered, the same as the probe finds; --allow-network keeps the overlay."""
    environment, _, _ = blocked
    assert environment["isolation"] == isolation.to_json()
    allowed, _ = _validate(probe_repo, "--allow-network", "-e", "interfaces")
    assert allowed["isolation"] == {**isolation.to_json(), "network": "none",
                                    "reason": "; ".join(filter(None, ["--allow-network", isolation.reason]))}


def test_worker_sees_no_interface_but_loopback(namespace, blocked):
    _, probes, _ = blocked
    assert probes["interfaces"] == {"interfaces": ["lo"], "loopback": "connected"}


def test_c_code_and_child_processes_cannot_connect(namespace, blocked, probe_repo: Path, server):
    """Neither reaches the server, and the C-level connect fails at once (no route), never by timing out."""
    _, probes, reached = blocked
    assert probes["c_connect"]["result"] == "ENETUNREACH"
    assert probes["c_connect"]["seconds"] < 1.0
    assert "Network is unreachable" in probes["child_connect"]["result"]
    assert reached == 0
    # The same probes, unisolated, do reach it: the test can tell a block from a probe that never tried.
    _, allowed = _validate(probe_repo, "--allow-network", "-e", "c_connect", "-e", "child_connect")
    assert allowed["c_connect"]["result"] == "connected"
    assert allowed["child_connect"]["result"] == "connected"
    assert _accepted(server[1]) == 2


def test_patching_the_guard_does_not_open_the_network(blocked):
    """Replacing netguard's functions or the hook's code leaves the audit hook blocking, with or without a namespace."""
    found = blocked[1]["patched_guard"]
    assert found["result"].startswith("NetworkBlocked: network access blocked by hubcheck: ")
    assert found["refused"] == ["hubcheck's network guard cannot be changed (__code__)"] * 2


def test_repo_code_cannot_change_the_repo(namespace, blocked):
    """It sees its own writes, but not in the references; the overlay cannot be unmounted, nor the repo reached outside.

    (``blocked`` already proved every file of the repo byte-identical afterwards.)
    """
    found = blocked[1]["rewrite_repo"]
    assert found["seen"] == [["data.txt", "hubcheck_refs", "hubconf.py", "new.txt"], "changed by repo code"]
    # The references stay the real ones, which the judge reads: repo code cannot plant its own there.
    assert found["forged reference"] == "EROFS"
    # EINVAL: the mount is locked; EPERM: the job's own user namespace holds no capability over it at all.
    assert set(found["unmount"]) <= {"EINVAL", "EPERM"}
    assert found["through /proc/1/root"] == "EACCES"


def test_repo_code_cannot_reach_into_the_server(namespace, blocked):
    """Each job runs in a user namespace of its own: no capability over the server that forks the judge."""
    assert blocked[1]["trace_server"] == {"mem": "EACCES", "environ": "EACCES"}


# Runs hubcheck in a user namespace of its own that may hold no further user namespace: the kernel
# then refuses the worker's, as where unprivileged user namespaces are disabled.
_WITHOUT_NAMESPACES = """\
import ctypes, os, sys
uid, gid = os.geteuid(), os.getegid()
if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) != 0:
    sys.exit(99)
for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
    with open(f"/proc/self/{name}", "w") as handle:
        handle.write(text)
with open("/proc/sys/user/max_user_namespaces", "w") as handle:
    handle.write("0")
os.execv(sys.executable, [sys.executable, "-m", "hubcheck", *sys.argv[1:]])
"""


def test_without_namespaces_the_audit_hook_blocks_and_the_report_says_why(namespace, probe_repo: Path):
    completed = subprocess.run(
        [sys.executable, "-c", _WITHOUT_NAMESPACES, "validate", str(probe_repo), "-e", "patched_guard"],
        check=False, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, cwd=PROJECT,
        env={**os.environ, "COLUMNS": "300", "NO_COLOR": "1"},
    )
    run = Run(completed.returncode, completed.stdout, completed.stderr)
    assert run.code == 1, run.stderr
    assert ("Isolation: network: Python sockets blocked by an audit hook, not C code or child processes; repo: "
            "writable; other files: not isolated (the kernel refused a user namespace and a network namespace: user "
            "namespaces disabled or exhausted (user.max_user_namespaces)).") in run.stdout
    assert "NetworkBlocked: network access blocked by hubcheck" in run.stdout


def test_a_multithreaded_worker_is_left_unconfined_and_says_why():
    """The forked probe succeeds, the process itself cannot: nothing changes, and the reason is the kernel's."""
    code = textwrap.dedent(f"""
        import json, socket, sys, threading, time
        sys.path.insert(0, {str(PROJECT / "hubcheck" / "worker")!r})
        import namespaces
        threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
        before = socket.if_nameindex()
        isolation = namespaces.enter(block_network=True)
        print(json.dumps([isolation.to_json(), socket.if_nameindex() == before]))
    """)
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    found, unchanged = json.loads(completed.stdout)
    assert found["network"] == "audit-hook" and unchanged
    if probe().network == namespaces.NETWORK_NAMESPACE:
        assert found["reason"] == (
            "the repo stays writable: this run writes into it (record, or --keep-obtained inside it); "
            "the kernel refused a user namespace and a network namespace: the worker was already multithreaded"
        )


@pytest.mark.parametrize("data", [["namespace"], {"network": "namespace"}, {"network": 1, "filesystem": "none", "reason": ""}])
def test_a_malformed_isolation_report_is_refused(data):
    with pytest.raises(ValueError, match="malformed isolation report from the worker"):
        Isolation.from_json(data)


def test_the_plugin_header_says_what_isolation_repo_code_gets(probe_repo: Path, isolation: Isolation):
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--hubcheck", str(probe_repo), "--collect-only", "-p", "no:cacheprovider"],
        check=False, capture_output=True, text=True, timeout=300, cwd=probe_repo.parent, stdin=subprocess.DEVNULL,
    )
    assert f"hubcheck isolation: {isolation.summary}" in completed.stdout, completed.stdout[-2000:]
