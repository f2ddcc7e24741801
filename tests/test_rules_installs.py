"""HUB305: the package installs an entry point's call runs, followed through the repo's own code.

Each snippet is the body of a helper module that an entry point reaches through
``_create`` (an import inside the function, then a call), as yolov5 is built; the
fixture repos under ``fixtures/rules/HUB305`` hold the whole shapes, checked exactly
by ``test_rules.py``. Here: which commands count as installs, what the message says,
and that the fixtures' quiet cases turn into findings as soon as an entry point
reaches them (so they are quiet for the reason they claim).
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from hubcheck.lint import lint_repo

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules" / "HUB305"

_HUBCONF = '''\
dependencies = ["torch"]


def _create(name):
    from zoo.setup import prepare

    prepare(name)


def net(name="net"):
    """A network.

    Args:
        name: which one.
    """
    return _create(name)
'''


def _repo(tmp_path: Path, setup: str) -> Path:
    repo = tmp_path / "repo"
    (repo / "zoo").mkdir(parents=True)
    (repo / "hubconf.py").write_text(_HUBCONF)
    (repo / "zoo" / "__init__.py").write_text("")
    (repo / "zoo" / "setup.py").write_text(textwrap.dedent(setup))
    return repo


def _installs(repo: Path) -> list[tuple[str, int | None, str]]:
    return [(f.path, f.line, f.message) for f in lint_repo(repo, select=("HUB305",)).findings]


_PREPARE = "import os\nimport shlex\nimport subprocess\nimport sys\n\n\ndef prepare(name):\n"


@pytest.mark.parametrize(("body", "shown"), [
    ('os.system(f"pip install {name}")', "pip install ..."),
    ('os.system("pip3 -q install -U " + name)', "pip3 -q install -U ..."),
    ('subprocess.check_call([sys.executable, "-m", "pip", "install", name])', "python -m pip install ..."),
    ('subprocess.run(f"{sys.executable} -m pip uninstall -y {name}", shell=True)', "python -m pip uninstall -y ..."),
    ('subprocess.run(shlex.split("sudo apt-get install -y ffmpeg"))', "sudo apt-get install -y ffmpeg"),
    ('os.popen("cd ops && python setup.py develop")', "python setup.py develop"),
    ('subprocess.Popen(["uv", "pip", "install", name])', "uv pip install ..."),
    ('subprocess.call("mamba install -y {}".format(name).split())', "mamba install -y ..."),
    ('command = [sys.executable, "-m", "ensurepip"]\n    subprocess.run(command)', "python -m ensurepip"),
])
def test_a_command_that_installs_is_reported_with_what_it_runs(tmp_path, body, shown):
    repo = _repo(tmp_path, _PREPARE + f"    {body}\n")
    [(path, line, message)] = _installs(repo)
    assert path == "zoo/setup.py"
    assert line == len(_PREPARE.splitlines()) + body.count("\n") + 1
    assert f"runs `{shown}` when `net` is called (net -> _create -> prepare)" in message


@pytest.mark.parametrize("body", [
    'raise ImportError(f"run `pip install {name}` first")',
    'print("pip install", name)',
    'os.system("echo pip install is not run here")',
    'subprocess.run([sys.executable, "-m", "pip", "show", name])',
    'subprocess.run(["pip", "download", name])',
    'subprocess.run(["git", "lfs", "install"])',
    'os.system(name)',
])
def test_a_command_that_does_not_install_is_not_reported(tmp_path, body):
    assert _installs(_repo(tmp_path, _PREPARE + f"    {body}\n")) == []


def test_pip_main_and_ensurepip_and_ultralytics_checks_are_installs(tmp_path):
    repo = _repo(tmp_path, """\
        import ensurepip

        import pip
        from ultralytics.utils.checks import check_requirements


        def prepare(name):
            pip.main(["install", name])
            ensurepip.bootstrap()
            check_requirements([name])
            check_requirements([name], install=False)
            pip.main(["list"])
        """)
    assert [(line, message.split(" when ")[0]) for _, line, message in _installs(repo)] == [
        (8, "`pip.main` runs `pip install ...`"),
        (9, "`ensurepip.bootstrap` installs pip into the running Python (`ensurepip`)"),
        (10, ("`check_requirements` pip-installs every requirement that is missing (its `install` argument is "
              "not false)")),
    ]


def test_the_chain_goes_through_classes_self_calls_and_module_imports(tmp_path):
    repo = _repo(tmp_path, """\
        from zoo import backends


        class Model:
            def __init__(self):
                self.prepare_backend()

            def prepare_backend(self):
                backends.install()


        def prepare(name):
            return Model()
        """)
    (repo / "zoo" / "backends.py").write_text(
        'import os\n\ntry:\n    import onnx\nexcept ImportError:\n    os.system("pip install onnx")\n\n\n'
        'def install():\n    os.system("conda install -y ffmpeg")\n')
    found = _installs(repo)
    assert [(path, line) for path, line, _ in found] == [("zoo/backends.py", 6), ("zoo/backends.py", 10)]
    assert "(net -> _create -> zoo.setup -> zoo.backends)" in found[0][2]
    assert "(net -> _create -> prepare -> Model -> Model.prepare_backend -> install)" in found[1][2]


def test_the_shortest_chain_and_the_first_entry_point_are_named(tmp_path):
    repo = _repo(tmp_path, _PREPARE + '    os.system("pip install thop")\n')
    hubconf = repo / "hubconf.py"
    hubconf.write_text(hubconf.read_text() + textwrap.dedent('''

        def alexnet():
            """AlexNet, built the long way."""
            return net("alexnet")


        def zfnet():
            """ZFNet, built directly."""
            from zoo.setup import prepare

            return prepare("zfnet")
        '''))
    [finding] = lint_repo(repo, select=("HUB305",)).findings
    # alexnet sorts first, but its chain (alexnet -> net -> _create -> prepare) is longer than zfnet's.
    assert finding.entrypoint == "zfnet"
    assert "(zfnet -> prepare)" in finding.message


def test_an_install_hubconf_runs_at_import_is_left_to_hub301(tmp_path):
    repo = _repo(tmp_path, 'import os\n\ntry:\n    import thop\nexcept ImportError:\n    os.system("pip install thop")\n'
                 '\n\ndef prepare(name):\n    return name\n')
    assert len(_installs(repo)) == 1
    hubconf = repo / "hubconf.py"
    hubconf.write_text(hubconf.read_text().replace('dependencies = ["torch"]\n',
                                                   'dependencies = ["torch"]\n\nimport zoo.setup  # noqa: F401\n'))
    codes = [(f.path, f.line, f.code) for f in lint_repo(repo, select=("HUB301", "HUB305")).findings]
    assert codes == [("zoo/setup.py", 6, "HUB301")]


def test_the_quiet_fixtures_report_as_soon_as_an_entry_point_reaches_the_install(tmp_path):
    repo = tmp_path / "non_violations"
    shutil.copytree(FIXTURES / "non_violations", repo)
    assert _installs(repo) == []
    general = repo / "yolo_utils" / "general.py"
    general.write_text(general.read_text().replace("    try:\n        __import__(name)",
                                                   "    check_requirements([name])\n    try:\n        __import__(name)"))
    assert [(path, line) for path, line, _ in _installs(repo)] == [("yolo_utils/general.py", 13)]

    repo = tmp_path / "non_violations_at_import"
    shutil.copytree(FIXTURES / "non_violations_at_import", repo)
    hubconf = repo / "hubconf.py"
    hubconf.write_text(hubconf.read_text().replace('\n_check_requirements(("thop",))\n', "\n"))
    [(path, line, message)] = _installs(repo)
    assert (path, line) == ("yolo_utils/general.py", 8)
    assert "when `yolov7` is called (yolov7 -> check_requirements)" in message
