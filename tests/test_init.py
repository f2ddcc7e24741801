"""``hubcheck init``: a new repo that is lint-clean and validates, and that never loses a file."""

from __future__ import annotations

import json

import pytest

from tests.helpers import PROJECT, file_digests, hubcheck


@pytest.mark.slow
def test_init_creates_a_repo_that_lints_clean_and_validates(tmp_path):
    target = tmp_path / "digits_hub"
    run = hubcheck("init", str(target))
    assert run.code == 0, run.stderr
    assert (target / "digits_hub" / "model.py").is_file()
    for expected in ("hubconf.py", "train.py", "hubcheck.toml", "README.md", ".github/workflows/hubcheck.yml",
                     ".pre-commit-config.yaml"):
        assert (target / expected).is_file(), expected
    assert "torch.hub.load" in (target / "README.md").read_text()
    assert "hubcheck" in (target / ".github" / "workflows" / "hubcheck.yml").read_text()
    assert "hubcheck-lint" in (target / ".pre-commit-config.yaml").read_text()

    lint = hubcheck("lint", str(target))
    assert lint.code == 0 and "No problems found." in lint.stdout, lint.stdout
    validate = hubcheck("validate", str(target), "--format", "json")
    assert validate.code == 0, validate.stdout + validate.stderr
    statuses = {(c["entrypoint"], c["check"]): c["status"] for c in json.loads(validate.stdout)["checks"]}
    for check in ("docstring", "load", "forward", "determinism", "state-dict-roundtrip"):
        assert statuses[("mlp", check)] == "passed", check
    record = hubcheck("record", str(target))
    assert record.code == 0
    assert hubcheck("validate", str(target)).code == 0


def test_template_weights_are_the_reference_repos_trained_weights():
    shipped = PROJECT / "hubcheck" / "templates" / "init" / "mlp_blobs.pth"
    trained = PROJECT / "reference_repo" / "refzoo" / "weights" / "mlp_blobs.pth"
    assert shipped.read_bytes() == trained.read_bytes()


def test_init_refuses_a_non_empty_directory_and_writes_nothing(tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    before = file_digests(target)
    run = hubcheck("init", str(target))
    assert run.code == 2
    assert "is not empty" in run.stderr and "--force" in run.stderr
    assert "Traceback" not in run.stderr
    assert file_digests(target) == before


def test_init_force_adds_missing_files_and_never_overwrites(tmp_path):
    target = tmp_path / "partial_hub"
    target.mkdir()
    (target / "README.md").write_text("my own readme")
    run = hubcheck("init", str(target), "--force")
    assert run.code == 0, run.stderr
    assert (target / "README.md").read_text() == "my own readme"
    assert "kept existing README.md" in run.stderr
    assert (target / "hubconf.py").is_file()


@pytest.mark.parametrize("name", ["models", "utils", "hub"])
def test_init_refuses_generic_package_names(tmp_path, name):
    run = hubcheck("init", str(tmp_path / name))
    assert run.code == 2
    assert "too generic" in run.stderr and "--name" in run.stderr
    assert not (tmp_path / name).exists()


def test_init_name_sets_the_package(tmp_path):
    target = tmp_path / "x"
    assert hubcheck("init", str(target), "--name", "Vision Zoo 2").code == 0
    assert (target / "vision_zoo_2" / "model.py").is_file()
    assert "from vision_zoo_2.model import" in (target / "hubconf.py").read_text()
