"""``hubcheck weights``: the weights a repo's entry points reach, listed statically, then checked against a
real HTTP server on 127.0.0.1 serving good, truncated, HTML, hash-mismatched and pickled weights."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from tests.helpers import hubcheck, write_repo


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


GOOD = _saved({"weight": torch.arange(6.0).reshape(2, 3), "bias": torch.zeros(2)})
GOOD_HASH = hashlib.sha256(GOOD).hexdigest()[:10]
PICKLED = _saved({"weight": torch.zeros(2), "args": argparse.Namespace(lr=0.1)})
PICKLED_HASH = hashlib.sha256(PICKLED).hexdigest()[:10]
HTML = b"<!DOCTYPE html><html><body>This file has moved.</body></html>"


class _Weights(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        name = self.path.lstrip("/")
        if name == f"good-{GOOD_HASH}.pth":
            self._send(GOOD, "application/octet-stream")
        elif name == f"pickled-{PICKLED_HASH}.pth":
            self._send(PICKLED, "application/octet-stream")
        elif name == f"short-{GOOD_HASH}.pth":
            self._send(GOOD[: len(GOOD) // 2], "application/octet-stream", declared=len(GOOD))
        elif name == "moved.pth":
            self._send(HTML, "text/html; charset=utf-8")
        elif name == "wrong-deadbeef.pth":
            self._send(GOOD, "application/octet-stream")
        else:
            self.send_error(404)

    def _send(self, body: bytes, content_type: str, declared: int | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(declared if declared is not None else len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Weights)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _repo(root: Path, base: str) -> Path:
    marker = root / "imported"
    return write_repo(root / "zoo", {"hubconf.py": f'''
        """Weights served by the test's server."""
        import os

        from torch.hub import load_state_dict_from_url, download_url_to_file
        import torch

        open({str(marker)!r}, "w").close()
        dependencies = ["torch"]
        BASE = "{base}"
        URLS = {{"short": BASE + "/short-{GOOD_HASH}.pth", "moved": f"{{BASE}}/moved.pth"}}


        def good(pretrained=True):
            """Loads the good weights, hash checked."""
            return load_state_dict_from_url(f"{{BASE}}/good-{GOOD_HASH}.pth", map_location="cpu", check_hash=True)


        def also_good():
            """Reaches the same file through a helper."""
            return good()


        def table(name="short"):
            """Every value of a URL table."""
            return load_state_dict_from_url(URLS[name], map_location="cpu")


        def wrong():
            """A hash prefix in the name that the bytes do not have."""
            download_url_to_file(BASE + "/wrong-deadbeef.pth", "/tmp/x.pth", hash_prefix="deadbeef")


        def pickled():
            """Needs a global that weights_only refuses."""
            return load_state_dict_from_url(BASE + "/pickled-{PICKLED_HASH}.pth", map_location="cpu")


        def local():
            """A file of the repo's own, and one anchored to it."""
            torch.load("weights/local.pth", map_location="cpu", weights_only=True)
            return torch.load(os.path.join(os.path.dirname(__file__), "w.pth"), map_location="cpu")
    ''', "weights/local.pth": ""})


def _weights(run) -> dict[str, dict]:
    return {entry["location"].rsplit("/", 1)[-1]: entry for entry in json.loads(run.stdout)["weights"]}


def test_weights_are_listed_statically_with_their_entry_points_and_hashes(tmp_path, server):
    repo = _repo(tmp_path, server)
    (repo / "weights" / "local.pth").write_bytes(GOOD)
    run = hubcheck("weights", str(repo), "-f", "json")
    assert run.code == 0, run.stderr
    found = _weights(run)
    assert set(found) == {f"good-{GOOD_HASH}.pth", f"short-{GOOD_HASH}.pth", "moved.pth", "wrong-deadbeef.pth",
                          f"pickled-{PICKLED_HASH}.pth", "local.pth", "w.pth"}
    good = found[f"good-{GOOD_HASH}.pth"]
    assert good["entrypoints"] == ["also_good", "good"]
    assert (good["hash_prefix"], good["hash_checked"], good["sites"][0]["line"]) == (GOOD_HASH, True, 15)
    assert (found["moved.pth"]["hash_prefix"], found["moved.pth"]["hash_checked"]) == (None, False)
    assert found["moved.pth"]["entrypoints"] == ["table"]
    assert found["wrong-deadbeef.pth"]["hash_checked"] is True
    assert found["local.pth"]["kind"] == "path" and found["local.pth"]["verification"] is None
    assert not (tmp_path / "imported").exists()
    text = hubcheck("weights", str(repo)).stdout
    assert f"file good-{GOOD_HASH}.pth: hash prefix {GOOD_HASH}; the call checks the hash" in text
    assert "file moved.pth: no `-<hex>.` hash prefix; the call checks no hash" in text


def test_allow_network_checks_size_type_and_hash(tmp_path, server):
    run = hubcheck("weights", str(_repo(tmp_path, server)), "--allow-network", "-f", "json")
    assert run.code == 1, run.stderr
    found = {name: entry["verification"] for name, entry in _weights(run).items()}
    assert found[f"good-{GOOD_HASH}.pth"]["status"] == "passed"
    assert found[f"good-{GOOD_HASH}.pth"]["size"] == len(GOOD)
    assert found[f"short-{GOOD_HASH}.pth"]["status"] == "failed"
    assert "truncated" in found[f"short-{GOOD_HASH}.pth"]["message"]
    assert "HTML" in found["moved.pth"]["message"]
    assert "does not start with deadbeef" in found["wrong-deadbeef.pth"]["message"]
    assert found["local.pth"]["message"] == "it is empty"
    assert json.loads(run.stdout)["summary"] == {"weights": 7, "passed": 2, "failed": 5, "not_checked": 0}


def test_torch_home_checks_cached_copies_offline(tmp_path, server):
    home = tmp_path / "home"
    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / f"good-{GOOD_HASH}.pth").write_bytes(GOOD)
    (checkpoints / "moved.pth").write_bytes(HTML)
    (checkpoints / "x.pth").write_bytes(GOOD)  # download_url_to_file names it by its dst
    run = hubcheck("weights", str(_repo(tmp_path, "http://unreachable.invalid")), "--torch-home", str(home),
                   "-f", "json")
    found = {name: entry["verification"] for name, entry in _weights(run).items()}
    assert found[f"good-{GOOD_HASH}.pth"]["status"] == "passed"
    assert found["moved.pth"]["message"] == "it is an HTML page, not weights"
    assert "does not start with deadbeef" in found["wrong-deadbeef.pth"]["message"]
    assert "not in --torch-home" in found[f"pickled-{PICKLED_HASH}.pth"]["message"]


@pytest.mark.slow  # a Python process that imports torch per checkpoint: about 2 s each
def test_load_uses_weights_only_in_another_process_and_names_the_globals(tmp_path, server):
    repo = _repo(tmp_path, server)
    (repo / "weights" / "local.pth").write_bytes(GOOD)
    run = hubcheck("weights", str(repo), "--allow-network", "--load", "-f", "json")
    found = {name: entry["verification"] for name, entry in _weights(run).items()}
    assert found[f"good-{GOOD_HASH}.pth"]["loaded"] is True
    assert "loads with weights_only=True (a dict of 2 entries)" in found[f"good-{GOOD_HASH}.pth"]["message"]
    assert found["local.pth"]["loaded"] is True
    refused = found[f"pickled-{PICKLED_HASH}.pth"]
    assert refused["loaded"] is False and refused["needs_globals"] == ["argparse.Namespace"]
    assert "argparse.Namespace" in refused["message"]


@pytest.mark.parametrize(("args", "message"), [
    (("--torch-home", "/nonexistent/home"), "is not a directory"),
    (("--timeout", "0"), "--timeout must be more than 0"),
])
def test_bad_options_exit_2(tmp_path, server, args, message):
    run = hubcheck("weights", str(_repo(tmp_path, server)), *args)
    assert run.code == 2 and message in run.stderr


def test_url_constants_imported_from_the_repos_own_modules_are_resolved(tmp_path):
    repo = write_repo(tmp_path / "zoo", {
        "hubconf.py": '''
            """Entry points whose URLs are built from constants of other repo modules."""
            from pkg.models import small
            from pkg.urls import BASE as ROOT
            from torch.hub import load_state_dict_from_url as _load

            dependencies = ["torch"]


            def large():
                """Large."""
                return _load(ROOT + "/large-0123abcd.pth", map_location="cpu", check_hash=True)
        ''',
        "pkg/__init__.py": "",
        "pkg/urls.py": 'BASE = "https://example.com/weights"\n',
        "pkg/models.py": '''
            from torch.hub import load_state_dict_from_url
            from .urls import BASE


            def small():
                """Small."""
                return load_state_dict_from_url(f"{BASE}/small.pth", map_location="cpu")
        ''',
    })
    run = hubcheck("weights", str(repo), "-f", "json")
    assert sorted((w["location"], tuple(w["entrypoints"]), w["hash_prefix"]) for w in json.loads(run.stdout)["weights"]) == [
        ("https://example.com/weights/large-0123abcd.pth", ("large",), "0123abcd"),
        ("https://example.com/weights/small.pth", ("small",), None),
    ], run.stderr


def test_paths_anchored_to_the_file_and_passed_through_a_helper_are_listed(tmp_path):
    """reference_repo's shape: a module constant built on ``os.path.dirname(__file__)``, loaded by a helper that
    takes the path as a parameter (nothing was listed before); a ``Path(__file__).parent`` form, and a method's
    parameter, which stays unresolved."""
    repo = write_repo(tmp_path / "zoo", {
        "hubconf.py": '''
            """Entry points loading weights shipped in the repo."""
            import os
            from pathlib import Path

            import torch

            dependencies = ["torch"]
            _HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
            SMALL = os.path.join(_HERE, "small.pth")


            def _load_state_dict(path):
                return torch.load(path, map_location="cpu", weights_only=True)


            def small():
                """Small."""
                return _load_state_dict(SMALL)


            def large():
                """Large."""
                return torch.load(Path(__file__).parent / "weights" / "large.pth", map_location="cpu")


            def outside():
                """A path above the repo is no weight of it."""
                return torch.load(os.path.join(os.path.dirname(__file__), "..", "elsewhere.pth"), map_location="cpu")
        ''',
    })
    (repo / "weights").mkdir()
    (repo / "weights" / "small.pth").write_bytes(GOOD)
    run = hubcheck("weights", str(repo), "-f", "json", "--load")
    weights = {(w["location"], w["kind"]): w for w in json.loads(run.stdout)["weights"]}
    assert set(weights) == {("weights/small.pth", "path"), ("weights/large.pth", "path"),
                            ("os.path.join(os.path.dirname(__file__), '..', 'elsewhere.pth')", "unresolved")}, run.stdout
    assert weights[("weights/small.pth", "path")]["entrypoints"] == ["small"]
    assert weights[("weights/small.pth", "path")]["verification"]["status"] == "passed"
    assert weights[("weights/large.pth", "path")]["verification"]["status"] == "failed"  # not shipped: said so


def test_reference_repo_lists_its_two_shipped_checkpoints():
    from tests.helpers import PROJECT

    run = hubcheck("weights", str(PROJECT / "reference_repo"), "-f", "json")
    assert run.code == 0, run.stderr
    assert sorted((w["location"], tuple(w["entrypoints"])) for w in json.loads(run.stdout)["weights"]) == [
        ("refzoo/weights/dcgan_digits.pth", ("DCGAN",)), ("refzoo/weights/mlp_blobs.pth", ("custom_model",))]
