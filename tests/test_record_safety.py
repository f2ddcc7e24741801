"""Repo data never chooses where hubcheck writes or what it reads: names, links, odd files, concurrent runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hubcheck.fileio import create_locked_temporary, link_new, remove_stale_temporaries
from hubcheck.worker.files import FileRefused, read_regular_file
from hubcheck.worker.references import (
    ReferencePathRefused,
    ReferenceUnusable,
    parse_record,
    read_reference,
    reference_file,
)
from tests.helpers import hubcheck, write_repo

HUBCONF = '''
"""{doc}"""
dependencies = ["torch"]

import torch


def tiny():
    """A 4-to-3 linear layer."""
    {body}torch.manual_seed(0)
    return torch.nn.Linear(4, 3)
{extra}'''
CONFIG = "[validate]\ndevices = [\"cpu\"]\ntimeout = 60\n\n[entrypoints.tiny]\ninputs = [ { shape = [2, 4] } ]\n"


def _repo(root: Path, *, body: str = "", extra: str = "") -> Path:
    hubconf = HUBCONF.format(doc="A test repo.", body=body, extra=extra)
    return write_repo(root, {"hubconf.py": hubconf, "hubcheck.toml": CONFIG})


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


# -- where a reference may live --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "c[d]", "a\0b", "", "x y", "/etc/passwd"])
def test_names_that_are_not_identifiers_name_no_file(tmp_path, name):
    with pytest.raises(ReferencePathRefused) as refused:
        reference_file(tmp_path, tmp_path / "hubcheck_refs", name, "default")
    assert not refused.value.is_fault and "not a Python identifier" in str(refused.value)


def test_links_that_leave_the_repo_or_the_references_directory_are_refused(tmp_path):
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    (repo / "hubcheck_refs").mkdir(parents=True)
    outside.mkdir()
    assert reference_file(repo, repo / "hubcheck_refs", "tiny", "default") == repo / "hubcheck_refs/tiny/default.safetensors"
    (repo / "hubcheck_refs" / "tiny").symlink_to(outside)
    with pytest.raises(ReferencePathRefused, match="leads outside the references directory") as refused:
        reference_file(repo, repo / "hubcheck_refs", "tiny", "default")
    assert refused.value.is_fault
    (repo / "linked_refs").symlink_to(outside)
    with pytest.raises(ReferencePathRefused, match="leads outside the repo"):
        reference_file(repo, repo / "linked_refs", "tiny", "default")
    # A link that stays inside is fine.
    (repo / "inner").symlink_to(repo / "hubcheck_refs")
    assert reference_file(repo, repo / "inner", "other", "default").name == "default.safetensors"


@pytest.mark.slow
def test_record_writes_nothing_outside_the_repo_for_a_name_that_is_a_path(tmp_path):
    repo = _repo(tmp_path / "work" / "repo", extra='\nglobals()["../../outside/x"] = tiny\n')
    before = _tree(tmp_path)
    for args in ((), ("--update",)):
        run = hubcheck("record", str(repo), *args)
        assert run.code == 0, run.stderr
        assert "not recorded: entry point '../../outside/x' is not a Python identifier" in run.stdout
    created = _tree(tmp_path) - before
    assert created == {f"work/repo/hubcheck_refs{suffix}" for suffix in
                       ("", "/tiny", "/tiny/default.safetensors", "/tiny/default.json")}, created


@pytest.mark.slow
def test_record_through_a_references_link_to_elsewhere_writes_nothing(tmp_path):
    repo, elsewhere = _repo(tmp_path / "repo"), tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo / "hubcheck_refs").symlink_to(elsewhere)
    for args in ((), ("--update",)):
        run = hubcheck("record", str(repo), *args)
        assert run.code == 1
        assert "leads outside the repo" in run.stderr and "1 failed" in run.stdout
    assert not any(elsewhere.iterdir())


@pytest.mark.slow
def test_a_failed_record_leaves_no_directory_or_temporary(tmp_path):
    repo = _repo(tmp_path / "repo", body='raise RuntimeError("no weights")\n    ')
    run = hubcheck("record", str(repo))
    assert run.code == 1 and "no weights" in run.stderr
    assert not (repo / "hubcheck_refs").exists()


@pytest.mark.slow
def test_two_concurrent_records_create_the_reference_once(tmp_path):
    """Both runs reach the entry point together (a two-party barrier in hubconf), then race to publish."""
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    wait = (f"import os as _os, time as _time\n    open(_os.path.join({str(barrier)!r}, str(_os.getpid())), 'w').close()\n"
            f"    _deadline = _time.monotonic() + 60\n"
            f"    while len(_os.listdir({str(barrier)!r})) < 2 and _time.monotonic() < _deadline:\n"
            f"        _time.sleep(0.01)\n    ")
    repo = _repo(tmp_path / "repo", body=wait)
    command = [sys.executable, "-m", "hubcheck", "record", str(repo)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL) for _ in range(2)]
    outputs = [process.communicate(timeout=240) for process in processes]
    codes = [process.returncode for process in processes]
    stdout = [out for out, _ in outputs]
    assert len(os.listdir(barrier)) == 2, "the runs did not overlap"
    assert codes == [0, 0], outputs
    created = [out for out in stdout if "created hubcheck_refs/tiny/default.safetensors" in out]
    unchanged = [out for out in stdout if "unchanged hubcheck_refs/tiny/default.safetensors" in out]
    assert len(created) == 1 and len(unchanged) == 1, stdout
    reference = repo / "hubcheck_refs" / "tiny" / "default.safetensors"
    assert read_reference(reference).outputs["output"].shape == (2, 3)
    assert json.loads(reference.with_suffix(".json").read_text())["leaves"]["output"]["shape"] == [2, 3]
    assert sorted(p.name for p in reference.parent.iterdir()) == ["default.json", "default.safetensors"]


# -- publishing a file exclusively -----------------------------------------------------------------


def test_link_new_never_replaces_anything(tmp_path):
    source = tmp_path / "source"
    source.write_bytes(b"new")
    link_new(source, tmp_path / "target")
    assert (tmp_path / "target").read_bytes() == b"new"
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    (tmp_path / "existing").write_bytes(b"old")
    for name in ("target", "dangling", "existing"):
        with pytest.raises(FileExistsError):
            link_new(source, tmp_path / name)
    assert (tmp_path / "existing").read_bytes() == b"old" and not (tmp_path / "nowhere").exists()


def test_stale_temporaries_are_those_no_run_holds(tmp_path):
    target = tmp_path / "default.safetensors"
    held, descriptor = create_locked_temporary(target)
    stale = tmp_path / ".default.safetensors.dead.tmp"
    stale.write_bytes(b"left by a killed run")
    try:
        remove_stale_temporaries(target)
        assert held.exists() and not stale.exists()
    finally:
        os.close(descriptor)
    remove_stale_temporaries(target)
    assert not held.exists()


# -- reading only bounded regular files --------------------------------------------------------------


def test_reads_refuse_what_is_not_a_small_regular_file(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "zero").symlink_to("/dev/zero")
    (tmp_path / "big").write_bytes(b"x" * 101)
    cases = {fifo: "is a named pipe (FIFO)", tmp_path: "is a directory", tmp_path / "zero": "is a character device",
             tmp_path / "big": "is 101 bytes, over the limit of 100", tmp_path / "missing": "cannot read"}
    for path, fragment in cases.items():
        with pytest.raises(FileRefused, match=fragment.replace("(", r"\(").replace(")", r"\)")):
            read_regular_file(path, 100)
    with pytest.raises(FileRefused, match="is a symbolic link"):
        read_regular_file(tmp_path / "zero", 100, follow_symlinks=False)
    assert read_regular_file(tmp_path / "big", 101) == b"x" * 101


@pytest.mark.parametrize(("text", "fragment"), [
    (None, "it is missing"),
    ("{not json", "not JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("[1, 2]", "a JSON array, not an object"),
    ('"keys"', "a JSON string, not an object"),
    ("{}", "'keys' is missing"),
    ('{"keys": 5}', "'keys' must be a list of output names"),
    ('{"keys": [1]}', "'keys' must be a list of output names"),
    ('{"keys": [], "values": []}', "'values' must be an object, not a JSON array"),
    ('{"keys": ["a"], "values": {"a": {"b": 1}}}', "value 'a' must be a number, string, boolean or null"),
    ('{"keys": [], "device": 7}', "'device' must be a string, not a JSON number"),
    ('{"keys": [], "device": "toaster"}', "'device' 'toaster' names no device"),
    ('{"keys": [], "torch": null}', "'torch' must be a string, not a JSON null"),
    ('{"keys": [], "input_sha256": ["ab"], "seed": 0, "inputs": [{}]}', "'input_sha256' must be a list of sha256"),
    (f'{{"keys": [], "input_sha256": ["{"0" * 64}"], "seed": "0", "inputs": []}}', "'seed' must be an integer"),
    (f'{{"keys": [], "input_sha256": ["{"0" * 64}"], "seed": 0, "inputs": []}}', "one spec per digest"),
    (f'{{"keys": [], "input_sha256": ["{"0" * 64}"], "seed": 0, "inputs": [{{"shape": [-1], "dtype": "float32"}}]}}',
     "input 0 has no shape of non-negative integers"),
    (f'{{"keys": [], "input_sha256": ["{"0" * 64}"], "seed": 0, "inputs": [{{"shape": [2], "dtype": "complex"}}]}}',
     "input 0 has an unknown dtype or distribution"),
    ((f'{{"keys": [], "input_sha256": ["{"0" * 64}"], "seed": 0, "inputs": [{{"shape": [65536, 65536], '
      '"dtype": "float32"}]}'), "its inputs would be 17,179,869,184 bytes"),
])
def test_reference_metadata_of_the_wrong_shape_is_named(text, fragment):
    with pytest.raises(ReferenceUnusable) as error:
        parse_record(Path("refs/tiny/default.safetensors"), text)
    message = str(error.value)
    assert fragment in message and "refs/tiny/default.safetensors" in message and "\n" not in message, message


@pytest.mark.slow
def test_a_fifo_as_reference_fails_the_check_at_once(tmp_path):
    repo = _repo(tmp_path / "repo")
    assert hubcheck("record", str(repo)).code == 0
    reference = repo / "hubcheck_refs" / "tiny" / "default.safetensors"
    reference.unlink()
    os.mkfifo(reference)
    run = hubcheck("validate", str(repo), "--format", "json", timeout=120)
    assert run.code == 1, run.stderr
    check = next(c for c in json.loads(run.stdout)["checks"] if c["check"] == "reference")
    assert check["status"] == "failed" and "is a named pipe (FIFO), not a regular file" in check["message"]


def test_same_reference_ignores_the_order_safetensors_writes_metadata_in(tmp_path):
    import torch

    from hubcheck.worker.references import encode_reference, same_reference

    inputs, leaves = [torch.ones(2, 4)], {"output": torch.arange(6.0).reshape(2, 3), "output.n": 3}
    paths = []
    for index in range(4):  # safetensors keeps metadata in a hash map: some of these differ as bytes
        path = tmp_path / f"{index}.safetensors"
        path.write_bytes(encode_reference(inputs, leaves, {"type": "tensor"}, {"device": "cpu", "torch": "2"}))
        paths.append(path)
    references = [read_reference(path) for path in paths]
    assert all(same_reference(references[0], other) for other in references[1:])
    changed = {**leaves, "output": leaves["output"] + 1e-6}
    paths[1].write_bytes(encode_reference(inputs, changed, {"type": "tensor"}, {"device": "cpu", "torch": "2"}))
    assert not same_reference(references[0], read_reference(paths[1]))


def test_both_formats_read_and_a_file_with_inputs_twice_is_refused(tmp_path):
    import torch

    from hubcheck.worker.inputs import make_inputs
    from hubcheck.worker.references import encode_reference

    specs = [{"shape": [16, 64], "dtype": "float32"}]
    inputs, leaves = make_inputs(specs, 3), {"output": torch.ones(2, 3)}
    record = {"device": "cpu", "torch": "2", "seed": 3, "inputs": specs}
    compact, full = tmp_path / "compact.safetensors", tmp_path / "full.safetensors"
    compact.write_bytes(encode_reference(inputs, leaves, {"type": "tensor"}, record, regenerable=True))
    # Format 1, as hubcheck wrote it before seeded inputs were stored compactly: the inputs in full.
    full.write_bytes(encode_reference(inputs, leaves, {"type": "tensor"}, record).replace(
        b'"hubcheck.format":"2"', b'"hubcheck.format":"1"'))
    assert compact.stat().st_size < full.stat().st_size
    for path in (compact, full):
        assert torch.equal(read_reference(path).inputs[0], inputs[0])
    both = tmp_path / "both.safetensors"
    both.write_bytes(encode_reference(inputs, leaves, {"type": "tensor"}, {**record, "input_sha256": ["0" * 64]}))
    with pytest.raises(ReferenceUnusable, match="holds both input tensors and input digests"):
        read_reference(both)
