"""Both hubconf.py files (reference_repo/ and the project root) as torch.hub sees them."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

# Imports hubconf the way torch.hub.load/list do and reports what torch.hub would see.
INSPECT_HUBCONF = textwrap.dedent(
    """
    import contextlib, io, json, os, sys
    import torch
    repo = sys.argv[1]
    path_before = list(sys.path)
    modules_before = set(sys.modules)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        with torch.hub._add_to_sys_path(repo):
            m = torch.hub._import_module(torch.hub.MODULE_HUBCONF, os.path.join(repo, torch.hub.MODULE_HUBCONF))
    new = set(sys.modules) - modules_before
    print(json.dumps({
        "entrypoints": [f for f in dir(m) if callable(getattr(m, f)) and not f.startswith("_")],
        "docs": {name: getattr(m, name).__doc__ for name in ("DCGAN", "custom_model")},
        "module_doc": m.__doc__,
        "dependencies": m.dependencies,
        "sys_path_unchanged": sys.path == path_before,
        "heavy_imports": sorted(p for p in ("torchvision", "sklearn", "hubcheck", "matplotlib") if p in new),
        "cwd_entries": os.listdir("."),
        "printed": printed.getvalue(),
    }))
    """
)

LOAD_CUSTOM_MODEL = textwrap.dedent(
    """
    import json, sys
    import torch
    model = torch.hub.load(sys.argv[1], "custom_model", source="local")
    gan = torch.hub.load(sys.argv[1], "DCGAN", source="local", pretrained=True)
    noise, _ = gan.buildNoiseData(3)
    print(json.dumps({
        "training": model.training,
        "out_shape": list(model(torch.zeros(5, 4)).shape),
        "weight_sum": model.hidden_layer_1.weight.sum().item(),
        "gan_shape": list(gan.test(noise).shape),
    }))
    """
)


@pytest.fixture(params=["reference_repo", "project_root"])
def hub_dir(request, repo_dir, project_root):
    return repo_dir if request.param == "reference_repo" else project_root


def test_hubconf_exposes_exactly_the_two_entry_points(hub_dir, run_python, tmp_path):
    proc = run_python("-c", INSPECT_HUBCONF, str(hub_dir), cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert report["entrypoints"] == ["DCGAN", "custom_model"]
    assert report["dependencies"] == ["torch"]
    assert report["module_doc"].strip()
    for name, doc in report["docs"].items():
        assert doc and doc.strip(), name
        for section in ("Args:", "Returns:", "Example:", "pretrained"):
            assert section in doc, (name, section)
    assert report["sys_path_unchanged"]
    assert report["heavy_imports"] == []  # dependencies = ["torch"] is the truth
    assert report["cwd_entries"] == []  # nothing written at import time
    assert report["printed"] == ""  # nothing printed at import time


def test_torch_hub_load_from_another_directory(hub_dir, repo_dir, run_python, tmp_path):
    proc = run_python("-c", LOAD_CUSTOM_MODEL, str(hub_dir), cwd=tmp_path)
    report = json.loads(proc.stdout)
    assert report["training"] is False
    assert report["out_shape"] == [5, 3]
    assert report["gan_shape"] == [3, 1, 32, 32]
    # Both hubconfs serve the committed weights.
    committed = torch.load(repo_dir / "refzoo" / "weights" / "mlp_blobs.pth", map_location="cpu", weights_only=True)
    assert report["weight_sum"] == pytest.approx(committed["hidden_layer_1.weight"].sum().item())
    assert list(tmp_path.iterdir()) == []



LOAD_FROM_HUB_CACHE = textwrap.dedent(
    """
    import json, sys
    import torch
    # owner/name:ref as users write it; the repo is already in torch.hub's cache, so nothing is fetched.
    model = torch.hub.load("acme/hubcheck:main", "custom_model", trust_repo=True, skip_validation=True)
    print(json.dumps({"out_shape": list(model(torch.zeros(2, 4)).shape),
                      "entrypoints": torch.hub.list("acme/hubcheck:main", trust_repo=True, skip_validation=True)}))
    """
)


def test_the_project_loads_through_the_github_form_from_torch_hubs_cache(project_root, run_python, tmp_path):
    import shutil

    # What torch.hub leaves after downloading acme/hubcheck at main: the tree in <hub>/acme_hubcheck_main.
    cached = tmp_path / "torch_home" / "hub" / "acme_hubcheck_main"
    cached.mkdir(parents=True)
    shutil.copy(project_root / "hubconf.py", cached / "hubconf.py")
    shutil.copytree(project_root / "reference_repo", cached / "reference_repo",
                    ignore=shutil.ignore_patterns("__pycache__", "hubcheck_refs"))
    work = tmp_path / "work"
    work.mkdir()
    env_script = f"import os; os.environ['TORCH_HOME'] = {str(tmp_path / 'torch_home')!r}\n" + LOAD_FROM_HUB_CACHE
    report = json.loads(run_python("-c", env_script, cwd=work).stdout)
    assert report["out_shape"] == [2, 3]
    assert report["entrypoints"] == ["DCGAN", "custom_model"]
