"""The static reader: what it reads from hubconf.py is what torch.hub would see.

The central proof: for every fixture repo under ``fixtures/`` whose static
model claims to be complete, the entry point names equal what
``torch.hub.list``'s own rule returns after importing hubconf exactly the way
torch.hub does. One subprocess imports torch once and every repo in a forked
child of its own, from an empty working directory with stdin closed; a
hubconf that cannot be imported there is reported as skipped with the reason.

``fixtures/static/*`` repos stress the reader; each has an ``expected.json``
with the whole static model: ``complete``, the entry points (name, kind,
signature, leaked) and the uncertain names.
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hubcheck.lint import lint_repo
from hubcheck.static.model import Parameter, format_signature
from hubcheck.static.reader import HubconfUnreadable, _clean_like_compiler, read_hubconf

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HUB_REPOS = sorted(path.parent for path in FIXTURES.glob("**/hubconf.py") if path.is_file())
STATIC_REPOS = sorted(path.parent for path in (FIXTURES / "static").glob("*/expected.json"))
MARKER_FIXTURE = FIXTURES / "static" / "import_side_effects"

IMPORT_TIMEOUT_S = 60
"""Limit of the whole import run; the script gives each repo a much shorter one."""

# Imports every repo's hubconf the way torch.hub.list does. One process
# imports torch (and torchvision, which torch.hub users mostly have imported
# already) once, then forks a child per repo, a few at a time: each child
# imports hubconf into a pristine copy of that process, so one repo's
# modules, sys.path edits or crash never reach another, and each reports
# into its own file. Other fixtures misbehave at import on purpose (pip
# installs, downloads, writes next to themselves, endless loops, eating
# memory, segfaults): an audit hook refuses those side effects and time and
# memory limits stop the rest, so the repo gets an error and its test skips.
_IMPORT_LIKE_TORCH_HUB = r"""
import json, os, resource, signal, sys, time
import torch.hub
import torchvision

SECONDS_PER_REPO = 5
MEMORY_HEADROOM = 2**30
PARALLEL = 4
WORKDIR = os.path.join(os.getcwd(), "")
REFUSED = ("subprocess.Popen", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.chdir",
           "socket.connect", "socket.getaddrinfo", "socket.gethostbyname")
WRITES = ("os.mkdir", "os.remove", "os.rename", "os.rmdir", "os.symlink", "os.link", "os.truncate",
          "shutil.rmtree")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def outside_workdir(path):
    return isinstance(path, (str, bytes, os.PathLike)) and not os.path.abspath(os.fsdecode(path)).startswith(WORKDIR)

def refuse(event, args):
    writes = event in WRITES or (event == "open" and (
        (isinstance(args[1], str) and any(c in args[1] for c in "wax+")) or (args[2] or 0) & WRITE_FLAGS))
    if event in REFUSED or (writes and outside_workdir(args[0])):
        raise PermissionError(f"refused while importing fixtures: {event}{args!r:.120}")

def data_size():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmData:"))

def import_hubconf(repo):
    try:
        with torch.hub._add_to_sys_path(repo):
            hub_module = torch.hub._import_module("hubconf.py", os.path.join(repo, "hubconf.py"))
        return {"list": [f for f in dir(hub_module) if callable(getattr(hub_module, f)) and not f.startswith("_")]}
    except BaseException as error:  # SystemExit from a hubconf is a result too
        return {"error": f"{type(error).__name__}: {error}"}

def start(repo, result_path):
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    try:
        with open(result_path, "w", encoding="utf-8") as result:
            if os.path.exists("/proc/self/status"):
                resource.setrlimit(resource.RLIMIT_DATA, (data_size() + MEMORY_HEADROOM, resource.RLIM_INFINITY))
            sys.addaudithook(refuse)
            json.dump(import_hubconf(repo), result)
    finally:
        os._exit(0)

def failure(status, timed_out):
    if timed_out:
        return f"importing took more than {SECONDS_PER_REPO} s"
    if os.WIFSIGNALED(status):
        return f"importing killed the process with signal {os.WTERMSIG(status)}"
    return f"importing ended the process with exit status {os.waitstatus_to_exitcode(status)}"

results, repos = sys.argv[1], sys.argv[2:]
pending = list(enumerate(repos))
running, timed_out = {}, set()
with open(results, "w", encoding="utf-8") as out:
    while pending or running:
        while pending and len(running) < PARALLEL:
            index, repo = pending.pop(0)
            result_path = os.path.join(WORKDIR, f"repo-{index}.json")
            running[start(repo, result_path)] = (repo, result_path, time.monotonic() + SECONDS_PER_REPO)
        pid, status = os.waitpid(-1, os.WNOHANG)
        if not pid:
            for pid, (_, _, deadline) in running.items():
                if time.monotonic() > deadline and pid not in timed_out:
                    timed_out.add(pid)
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)
            continue
        repo, result_path, _ = running.pop(pid)
        try:
            with open(result_path, encoding="utf-8") as result:
                record = json.load(result)
        except (OSError, ValueError):
            record = {"error": failure(status, pid in timed_out)}
        out.write(json.dumps({"repo": repo, **record}) + "\n")
"""


def _repo_id(repo: Path) -> str:
    return repo.relative_to(FIXTURES).as_posix()


@functools.cache
def _model_or_reason(repo: Path):
    """The static model, or why the list comparison does not apply to this repo."""
    try:
        model = read_hubconf(repo)
    except HubconfUnreadable as error:
        return None, f"hubconf.py does not parse ({error.reason}), so there is no list to compare"
    if not model.complete:
        what = [d.description for d in model.dynamic] + [u.name for u in model.uncertain]
        return None, f"the static model is incomplete ({', '.join(what)}), so it does not claim the full list"
    return model, None


def _import_like_torch_hub(repos: list[Path], workdir: Path) -> dict[Path, dict]:
    """``{"list": [...]}`` or ``{"error": "..."}`` per repo, from one run of the import script in ``workdir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUBCHECK_FIXTURE_")}
    env.update(PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    results = workdir / "results.jsonl"
    command = [sys.executable, "-c", _IMPORT_LIKE_TORCH_HUB, str(results), *map(str, repos)]
    with subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True) as child:
        try:
            _, stderr = child.communicate(timeout=IMPORT_TIMEOUT_S)
            failure = f"the import script exited with {child.returncode}: {stderr.strip()[-500:]}"
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)  # the script and the children it forked
            child.communicate()
            failure = f"the import script did not finish within {IMPORT_TIMEOUT_S} s"
    records = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()] if results.exists() else []
    found = {Path(record["repo"]): record for record in records}
    return {repo: found.get(repo, {"error": failure}) for repo in repos}


@pytest.fixture(scope="session")
def torch_hub_lists(tmp_path_factory) -> dict[Path, dict]:
    """``{"list": [...]}`` or ``{"error": "..."}`` for every repo whose static model is complete."""
    if not hasattr(os, "fork"):
        pytest.skip("importing every fixture's hubconf in isolation needs os.fork")
    repos = [repo for repo in HUB_REPOS if _model_or_reason(repo)[0] is not None]
    return _import_like_torch_hub(repos, tmp_path_factory.mktemp("torch-hub-cwd"))


@pytest.mark.parametrize("repo", HUB_REPOS, ids=_repo_id)
def test_static_entrypoints_equal_torch_hub_list(repo, torch_hub_lists):
    model, reason = _model_or_reason(repo)
    if model is None:
        pytest.skip(f"{_repo_id(repo)}: {reason}")
    record = torch_hub_lists[repo]
    if "error" in record:
        pytest.skip(f"{_repo_id(repo)}: hubconf.py cannot be imported the torch.hub way here: {record['error']}")
    assert [entry.name for entry in model.entrypoints] == record["list"]


# -- fixtures/static: the whole model -------------------------------------------------------------


def _static_summary(repo: Path) -> dict:
    model = read_hubconf(repo)
    return {
        "complete": model.complete,
        "entrypoints": [
            {"name": e.name, "kind": e.kind.value, "signature": e.signature, "leaked": e.leaked}
            for e in model.entrypoints
        ],
        "uncertain": [u.name for u in model.uncertain],
    }


@pytest.mark.parametrize("repo", STATIC_REPOS, ids=lambda p: p.name)
def test_static_model_is_the_expected_one(repo):
    assert _static_summary(repo) == json.loads((repo / "expected.json").read_text(encoding="utf-8"))


def test_reexport_is_read_from_the_repo_package():
    entry = read_hubconf(FIXTURES / "static" / "reexports").entrypoint("tiny_net")
    assert entry.definition.path == FIXTURES / "static" / "reexports" / "zoo" / "hub.py"
    assert entry.definition.local
    assert entry.summary == "A tiny network."
    assert entry.signature == "(pretrained: bool = False, *, width: int = DEFAULT_WIDTH, config: Optional[dict] = None)"


def test_partial_with_assigned_doc_keeps_it():
    model = read_hubconf(FIXTURES / "static" / "partials_objects_lambdas")
    assert model.entrypoint("mlp_small").doc == "A one-layer MLP, 4 wide."
    assert model.entrypoint("mlp_large").doc is None


@pytest.mark.parametrize("loop", [
    pytest.param('NAMES = ["a", "b"]\nNAMES[1] = "c"\nfor n in NAMES:\n    globals()[n] = partial(f, n)', id="table-changed"),
    pytest.param('NAMES = ["a"]\ndef _grow():\n    global NAMES\nfor n in NAMES:\n    globals()[n] = partial(f, n)',
                 id="table-global"),
    pytest.param('for n in ["a", 1]:\n    globals()[n] = partial(f, n)', id="not-all-strings"),
    pytest.param('for n in ["a"]:\n    if n:\n        globals()[n] = partial(f, n)', id="conditional-body"),
    pytest.param('for n in ["a"]:\n    globals()[n] = partial(f, n)\nelse:\n    pass', id="loop-else"),
    pytest.param('for n in ["a"]:\n    globals()[n + "_v2"] = partial(f, n)', id="computed-key"),
])
def test_namespace_loops_whose_names_are_not_literal_stay_dynamic(tmp_path, loop):
    (tmp_path / "hubconf.py").write_text(f"from functools import partial\ndef f(n):\n    \"\"\"F.\"\"\"\n{loop}\n")
    model = read_hubconf(tmp_path)
    assert not model.complete
    assert [e.name for e in model.entrypoints] == ["f", "partial"]


# -- reading never runs repo code -------------------------------------------------------------------


def test_reading_and_linting_never_execute_hubconf(tmp_path, monkeypatch):
    marker = tmp_path / "executed"
    monkeypatch.setenv("HUBCHECK_FIXTURE_MARKER", str(marker))
    model = read_hubconf(MARKER_FIXTURE)
    result = lint_repo(MARKER_FIXTURE)
    assert not marker.exists()
    assert [e.name for e in model.entrypoints] == ["linear"]
    assert result.model is not None
    assert "hubconf.py" not in sys.modules


# -- signatures and docstrings, against what Python itself reports ---------------------------------

_SIGNATURES = '''
from functools import partial as _partial

def plain(a, b=2, *args, c, d=None, **kwargs): pass
def positional_only(a, /, b, *, c=3): pass
def annotated(x: int, y: list[int] = None, *, z: "str" = 'z') -> None: pass
def only_keywords(*, pretrained=False, progress=True): pass
def nothing(): pass
def defaults_of_every_kind(a=-1, b=(1, 2), c={'k': [1]}, d=True, e='relu'): pass
def _target(width, depth, *more, act='relu', **kw): pass

class Klass:
    def __init__(self, a, b=1): pass

class _Callable:
    def __call__(self, x, *, scale=2): pass

instance = _Callable()
lam = lambda p, q=3: None
partial_positional = _partial(_target, 4)
partial_keyword = _partial(_target, depth=2)
partial_both = _partial(_target, 4, act='tanh', extra=1)
'''


def test_signatures_match_inspect(tmp_path):
    (tmp_path / "hubconf.py").write_text(_SIGNATURES, encoding="utf-8")
    namespace: dict = {}
    # The test's own code, not a repo's; compiled without this module's `from __future__ import annotations`.
    exec(compile(_SIGNATURES, "signatures", "exec", dont_inherit=True), namespace)
    model = read_hubconf(tmp_path)
    assert [e.name for e in model.entrypoints] == sorted(
        name for name, value in namespace.items() if callable(value) and not name.startswith("_"))
    for entry in model.entrypoints:
        assert entry.signature == str(inspect.signature(namespace[entry.name])).partition(" -> ")[0], entry.name


@pytest.mark.parametrize(("parameters", "expected"), [
    ((), "()"),
    ((Parameter("a", "positional_only", None), Parameter("b", "positional_or_keyword", "1")), "(a, /, b=1)"),
    ((Parameter("args", "var_positional", None), Parameter("k", "keyword_only", "None")), "(*args, k=None)"),
    ((Parameter("k", "keyword_only", None), Parameter("kw", "var_keyword", None)), "(*, k, **kw)"),
    ((Parameter("x", "positional_or_keyword", "4", "int"),), "(x: int = 4)"),
    ((Parameter("x", "positional_only", None, "int"),), "(x: int, /)"),
])
def test_format_signature(parameters, expected):
    assert format_signature(parameters) == expected


def test_docstrings_are_what_help_returns(tmp_path):
    source = textwrap.dedent('''
        def indented():
            """First line.

            Args:
                x: indented under Args.
            """

        class Documented:
            """Class docstring, not __init__'s."""

            def __init__(self, width=4):
                """Not what help() shows."""

        def one_line():
            """One line."""

        def no_doc():
            return None
    ''')
    (tmp_path / "hubconf.py").write_text(source, encoding="utf-8")
    namespace: dict = {}
    exec(compile(source, "docstrings", "exec", dont_inherit=True), namespace)
    for entry in read_hubconf(tmp_path).entrypoints:
        assert entry.doc == namespace[entry.name].__doc__, entry.name
    assert read_hubconf(tmp_path).entrypoint("indented").summary == "First line."


_DECORATED = textwrap.dedent('''
    import functools
    from functools import update_wrapper, wraps

    def pretrained_model(checkpoints):
        def inner(model_func):
            def model_def(pretrained=False, strict=True, **kwargs):
                return model_func(**kwargs)
            model_def.checkpoints = checkpoints
            return model_def
        return inner

    def logged(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            return fn(*args, **kwargs)
        return call

    def updated(fn):
        def call(*args, **kwargs):
            return fn(*args, **kwargs)
        update_wrapper(call, fn)
        return call

    def register(fn):
        return fn

    @pretrained_model({"in1k": "https://example.com/w.pth"})
    def replaced(width=8):
        """Lost: the wrapper has no docstring of its own."""

    @logged
    def kept(width=8):
        """Kept by functools.wraps."""

    @register
    def registered(depth=2):
        """Returned as it is."""

    @logged
    @pretrained_model({})
    def replaced_then_wrapped(width=8):
        """Lost before wraps copies the wrapper's metadata."""

    @updated
    def kept_by_update_wrapper(width=8):
        """Kept by update_wrapper."""
''')


def test_decorated_entry_points_have_the_docstring_and_signature_python_gives_them(tmp_path):
    (tmp_path / "hubconf.py").write_text(_DECORATED, encoding="utf-8")
    namespace: dict = {}
    exec(compile(_DECORATED, "decorated", "exec", dont_inherit=True), namespace)
    model = read_hubconf(tmp_path)
    decorated = ["kept", "kept_by_update_wrapper", "registered", "replaced", "replaced_then_wrapped"]
    assert [e.name for e in model.entrypoints if e.name in decorated] == decorated
    for name in decorated:
        entry = model.entrypoint(name)
        assert entry.doc == namespace[name].__doc__, name
        assert entry.signature == str(inspect.signature(namespace[name])), name


@pytest.mark.parametrize(("raw", "compiled"), [
    # Pairs of (the literal's value, __doc__) recorded from CPython 3.13, which strips docstrings.
    ("First line.\n\n    Args:\n        x: indented.\n    ", "First line.\n\nArgs:\n    x: indented.\n"),
    ("  Lead.\n\tTabbed\n      deeper\n\n    ", "Lead.\n  Tabbed\ndeeper\n\n"),
    ("\n\n    Blank start.\n    ", "\n\nBlank start.\n"),
    ("Two\n  less\n    more   \n    ", "Two\nless\n  more   \n  "),
    ("a\tb", "a       b"),
    ("One.", "One."),
])
def test_docstring_cleaning_matches_python_3_13(raw, compiled):
    assert _clean_like_compiler(raw) == compiled


# -- dependencies -----------------------------------------------------------------------------------


def _dependencies(tmp_path: Path, source: str):
    (tmp_path / "hubconf.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return read_hubconf(tmp_path).dependencies


def test_dependencies_entries_keep_their_positions(tmp_path):
    deps = _dependencies(tmp_path, '''
        dependencies = [
            "torch",
            "numpy",
        ]
    ''')
    assert deps.declared and deps.problem is None
    assert deps.names == ("torch", "numpy")
    assert [(e.line, e.column) for e in deps.entries] == [(3, 5), (4, 5)]


@pytest.mark.parametrize(("source", "problem"), [
    ('dependencies = "torch"', "bare-string"),
    ("dependencies = _compute()", "not-literal"),
    ('dependencies = ["torch"] + EXTRA', "not-literal"),
    ('dependencies = [d for d in ("torch",)]', "not-literal"),
    ('dependencies = ["torch", 1]', "non-string-element"),
    ('dependencies = ["torch", NUMPY]', "non-string-element"),
    ('dependencies = ("torch", "numpy")', None),
    ('dependencies = []', None),
])
def test_dependencies_problems(tmp_path, source, problem):
    deps = _dependencies(tmp_path, source)
    assert deps.declared
    assert deps.problem == problem
    assert (deps.line, deps.column) == (1, 1)


def test_dependencies_problem_points_at_the_offending_expression(tmp_path):
    assert _dependencies(tmp_path, 'dependencies = "torch"').problem_at == (1, 16)
    deps = _dependencies(tmp_path, '''
        dependencies = [
            "torch",
            TORCHVISION,
        ]
    ''')
    assert deps.problem_at == (4, 5)


def test_dependencies_absent_and_last_binding_wins(tmp_path):
    assert not _dependencies(tmp_path, "def model():\n    dependencies = ['torch']\n").declared
    deps = _dependencies(tmp_path, 'dependencies = "torch"\ndependencies = ["torch"]\n')
    assert deps.problem is None and deps.line == 2


# -- unreadable hubconf.py --------------------------------------------------------------------------


def _unreadable(tmp_path: Path, raw: bytes) -> HubconfUnreadable:
    (tmp_path / "hubconf.py").write_bytes(raw)
    with pytest.raises(HubconfUnreadable) as caught:
        read_hubconf(tmp_path)
    return caught.value


def test_syntax_error_position_matches_the_compiler(tmp_path):
    raw = b'"""Doc."""\n\ndependencies = ["torch"]\n\ndef model(pretrained=True:\n    pass\n'
    error = _unreadable(tmp_path, raw)
    with pytest.raises(SyntaxError) as compiled:
        compile(raw, "hubconf.py", "exec")
    assert (error.line, error.column) == (compiled.value.lineno, compiled.value.offset)
    assert error.reason == compiled.value.msg
    assert f"hubconf.py:{error.line}:{error.column}:" in str(error)


def test_null_bytes_are_unreadable(tmp_path):
    error = _unreadable(tmp_path, b'dependencies = ["torch"]\x00\n')
    assert "null" in error.reason


def test_invalid_utf8_is_unreadable(tmp_path):
    error = _unreadable(tmp_path, b'def model():\n    """Caf\xe9."""\n')
    assert "utf-8" in error.reason.lower()
    assert error.line == 2


def test_coding_cookie_is_honoured(tmp_path):
    (tmp_path / "hubconf.py").write_bytes(b'# -*- coding: latin-1 -*-\ndef model():\n    """Caf\xe9."""\n')
    assert read_hubconf(tmp_path).entrypoint("model").doc == "Caf\u00e9."


def test_missing_hubconf_is_unreadable(tmp_path):
    with pytest.raises(HubconfUnreadable, match="cannot read"):
        read_hubconf(tmp_path)


def test_tree_is_the_parsed_source(tmp_path):
    (tmp_path / "hubconf.py").write_text("def model():\n    '''Doc.'''\n", encoding="utf-8")
    model = read_hubconf(tmp_path)
    assert ast.dump(model.tree) == ast.dump(ast.parse(model.source))


# -- __all__ built by timm's @register_model --------------------------------------------------------

TIMM_REGISTRY_FIXTURE = FIXTURES / "rules" / "HUB103" / "non_violations_timm_register_model"


def test_star_import_of_timm_registered_models_binds_only_them():
    # The same five names as `hubcheck list --dynamic` with timm 1.0.31 installed (CI has no timm, so the
    # torch.hub comparison above skips this repo): xcit's classes, helpers and timm imports are not bound.
    model = read_hubconf(TIMM_REGISTRY_FIXTURE)
    assert model.complete
    assert [e.name for e in model.entrypoints] == ["deit_small", "deit_tiny", "tinynet", "xcit_nano", "xcit_tiny"]
    assert not any(e.leaked for e in model.entrypoints)


def _star_listed(tmp_path: Path, module: str, extra_files: dict[str, str] | None = None) -> list[str]:
    (tmp_path / "hubconf.py").write_text("dependencies = ['torch']\n\nfrom zoo import *\n", encoding="utf-8")
    (tmp_path / "zoo.py").write_text(textwrap.dedent(module), encoding="utf-8")
    for name, text in (extra_files or {}).items():
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return [e.name for e in read_hubconf(tmp_path).entrypoints]


def test_registrations_before_an_all_assignment_are_replaced_by_it(tmp_path):
    listed = _star_listed(tmp_path, '''
        from timm.models.registry import register_model

        @register_model
        def early():
            """Registered, then dropped: the assignment below makes a new list."""

        __all__ = ["listed"]

        def listed():
            """Listed."""

        @register_model
        def late():
            """Registered after the assignment."""
        ''')
    assert listed == ["late", "listed"]


def test_a_register_model_that_does_not_touch_all_leaves_the_public_names(tmp_path):
    # torchvision's and fairseq's register_model keep their own tables: every public name is star-imported.
    listed = _star_listed(tmp_path, '''
        from registry import register_model

        def helper():
            """A public helper."""

        @register_model
        def net():
            """A registered net."""
        ''', {"registry.py": '''
        MODELS = {}

        def register_model(fn):
            MODELS[fn.__name__] = fn
            return fn
        '''})
    assert listed == ["helper", "net", "register_model"]
