"""HUB2xx/HUB3xx details the fixture repos do not pin down: helpers, edge cases, near misses.

Each case writes a tiny hub repo and states the (code, line) findings of the
rule under test, like pyflakes' harness: a snippet and what it must produce.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from hubcheck.lint import lint_repo
from hubcheck.rules.code_patterns import _has_hash_suffix, _is_cwd_relative
from hubcheck.static.names import FileNames

HEADER = 'dependencies = ["torch"]\n\nimport os\n\nimport torch\n\n\n'


def _findings(tmp_path: Path, code: str, body: str, **files: str) -> list[int]:
    """Lines (counted from the first line of ``body``) where rule ``code`` fires in hubconf.py."""
    (tmp_path / "hubconf.py").write_text(HEADER + textwrap.dedent(body).lstrip("\n"))
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
    offset = HEADER.count("\n")
    return [f.line - offset for f in lint_repo(tmp_path, select=(code,)).findings
            if f.path == "hubconf.py"]


@pytest.mark.parametrize(("path", "relative"), [
    ("model_wt.pth", True),
    ("./weights/w.pth", True),
    ("../w.pth", True),
    ("/opt/w.pth", False),
    ("~/w.pth", False),
    ("https://example.com/w.pth", False),
    ("C:\\weights\\w.pth", False),
    ("", False),
])
def test_cwd_relative_paths(path, relative):
    assert _is_cwd_relative(path) is relative


@pytest.mark.parametrize("name", [
    "resnet18-f37072fd.pth", "net-0.pth", "a-b-0123abcd.tar.gz", "model-v2.pth", "model-.pth", "model.pth",
    "model-ABCDEF.pth", "weights-1a2b3c4d",
])
def test_hash_suffix_matches_torch_hub(name):
    torch_hub = pytest.importorskip("torch.hub")
    match = torch_hub.HASH_REGEX.search(name)
    assert _has_hash_suffix(name) is bool(match and match.group(1))


def _literal(source: str) -> str | None:
    """The literal value of the last expression statement of the last function in ``source``."""
    tree = ast.parse(textwrap.dedent(source))
    function = [n for n in tree.body if isinstance(n, ast.FunctionDef)][-1]
    expr = function.body[-1].value
    return FileNames(tree).literal(expr, (function,))


@pytest.mark.parametrize(("source", "value"), [
    ('import os\ndef f():\n    os.path.join("a", "b", "c.pth")', "a/b/c.pth"),
    ('NAME = "net"\ndef f():\n    f"w/{NAME}.pth"', "w/net.pth"),
    ('from pathlib import Path\ndef f():\n    Path("w") / "x.pth"', "w/x.pth"),
    ('def f():\n    "w/" + "x.pth"', "w/x.pth"),
    ('def f():\n    p = "x.pth"\n    p', "x.pth"),
    ('def f():\n    p\n\np = "late.pth"', "late.pth"),
    ('def f():\n    g()\ndef g():\n    p', None),
    ('def f(p="x.pth"):\n    p', None),
    ('def f():\n    p = "a.pth"\n    p = "b.pth"\n    p', None),
    ('import os\ndef f():\n    os.path.join(os.path.dirname(__file__), "x.pth")', None),
    ('import os\ndef f():\n    os.environ["W"]', None),
])
def test_literal_paths(source, value):
    # A module constant read inside a function counts even when assigned below it:
    # the module has finished running by the time the function is called.
    assert _literal(source) == value


def test_hub203_follows_a_module_constant_defined_after_the_function(tmp_path):
    lines = _findings(tmp_path, "HUB203", """
        def net():
            \"\"\"Net.\"\"\"
            return torch.load(WEIGHTS, map_location="cpu", weights_only=True)

        WEIGHTS = "w.pth"
    """)
    assert lines == [3]


def test_hub203_flags_open_for_writing_and_not_a_read_of_file(tmp_path):
    lines = _findings(tmp_path, "HUB203", """
        def net():
            \"\"\"Net.\"\"\"
            open(__file__).read()
            with open("out.txt", "w") as handle:
                handle.write("x")
    """)
    assert lines == [4]


def test_hub204_chained_calls_are_each_seen(tmp_path):
    # `model.cuda().eval()`: both calls start at the same column.
    lines = _findings(tmp_path, "HUB204", """
        def net():
            \"\"\"Net.\"\"\"
            model = torch.nn.Linear(2, 2)
            return model.cuda().eval()
    """)
    assert lines == [4]


def test_hub204_guard_only_covers_its_own_branch_and_later_statements(tmp_path):
    lines = _findings(tmp_path, "HUB204", """
        def net():
            \"\"\"Net.\"\"\"
            model = torch.nn.Linear(2, 2).cuda()
            if not torch.cuda.is_available():
                raise RuntimeError("needs a GPU")
            return model.cuda()
    """)
    assert lines == [3]


def test_hub204_check_in_the_condition_itself_does_not_guard_it(tmp_path):
    lines = _findings(tmp_path, "HUB204", """
        def net():
            \"\"\"Net.\"\"\"
            if torch.nn.Linear(2, 2).cuda() is not None:
                return torch.cuda.is_available()
    """)
    assert lines == [3]


def test_hub204_non_device_parameter_and_except_valueerror_do_not_guard(tmp_path):
    lines = _findings(tmp_path, "HUB204", """
        def net(fast=False):
            \"\"\"Net; fast picks the GPU.\"\"\"
            model = torch.nn.Linear(2, 2)
            if fast:
                model.cuda()
            try:
                model.cuda()
            except ValueError:
                pass
            return model
    """)
    assert lines == [5, 7]


def test_hub204_class_methods_reached_through_an_entry_point(tmp_path):
    lines = _findings(tmp_path, "HUB204", """
        class Net(torch.nn.Module):
            \"\"\"Net; use_gpu moves it to the GPU.\"\"\"

            def __init__(self, use_gpu=False):
                super().__init__()
                self.use_gpu = use_gpu
                self.linear = torch.nn.Linear(2, 2)

            def forward(self, x):
                if self.use_gpu:
                    x = x.cuda()
                return self.linear(x.cuda())
    """)
    assert lines == [12]


def test_hub201_and_hub202_respect_star_args_and_kwargs(tmp_path):
    body = """
        def net(*args, **kwargs):
            \"\"\"Net; args and kwargs go to torch.load.\"\"\"
            first = torch.load(*args)
            second = torch.load(__file__, **kwargs)
            return first, second
    """
    assert _findings(tmp_path, "HUB201", body) == []
    assert _findings(tmp_path, "HUB202", body) == [3]


def test_hub205_unknown_dict_key_names_the_unhashed_entry(tmp_path):
    (tmp_path / "hubconf.py").write_text(HEADER + textwrap.dedent("""\
        URLS = {"a": "https://x.org/a-0123abcd.pth", "b": "https://x.org/b.pth"}

        def net(name="a"):
            \"\"\"Net; name picks the weights.\"\"\"
            return torch.hub.load_state_dict_from_url(URLS[name], map_location="cpu", check_hash=True)

        def net_a():
            \"\"\"Net a.\"\"\"
            return torch.hub.load_state_dict_from_url(URLS["a"], map_location="cpu", check_hash=True)
    """))
    findings = lint_repo(tmp_path, select=("HUB205",)).findings
    assert [f.entrypoint for f in findings] == ["net"]
    assert "'b.pth'" in findings[0].message


def test_hub301_skips_function_bodies_but_not_class_bodies_or_defaults(tmp_path):
    lines = _findings(tmp_path, "HUB301", """
        import subprocess

        def _later():
            subprocess.run(["ls"])

        class _Now:
            result = subprocess.run(["ls"])

        def net(flag=os.system("true")):
            \"\"\"Net; flag is unused.\"\"\"
            return _later
    """)
    assert lines == [7, 9]


def test_hub302_reports_each_edit_once_with_its_entry_point(tmp_path):
    (tmp_path / "hubconf.py").write_text(HEADER + textwrap.dedent("""\
        import sys

        def net():
            \"\"\"Net.\"\"\"
            sys.path.insert(0, os.path.dirname(__file__))
            return torch.nn.Linear(2, 2)
    """))
    findings = lint_repo(tmp_path, select=("HUB302",)).findings
    assert [(f.line - HEADER.count("\n"), f.entrypoint) for f in findings] == [(5, "net")]


def test_hub303_ignores_installed_packages_with_generic_names(tmp_path):
    # `test` is a standard-library package; only a repo-local `test` would collide.
    assert _findings(tmp_path, "HUB303", """
        import test as _stdlib_test

        def net():
            \"\"\"Net.\"\"\"
            return _stdlib_test
    """) == []
    (tmp_path / "test.py").write_text('"""Local tests."""\n')
    assert _findings(tmp_path, "HUB303", """
        import test as _local_test

        def net():
            \"\"\"Net.\"\"\"
            return _local_test
    """) == [1]


def test_hub204_a_name_assigned_from_a_cuda_call_is_not_a_check(tmp_path):
    lines = _findings(tmp_path, "HUB204", """
        def net():
            \"\"\"Net.\"\"\"
            model = torch.nn.Linear(2, 2)
            if model is not None:
                model = model.cuda()
            return model
    """)
    assert lines == [5]
