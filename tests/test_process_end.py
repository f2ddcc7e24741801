"""The console script leaves a lint's syntax trees to the operating system; library callers free them as usual."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from pathlib import Path

from hubcheck import process_end
from hubcheck.lint import lint_repo
from tests.helpers import PROJECT

REFERENCE = PROJECT / "reference_repo"


def _console(*args: str, cwd: Path, extra: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m hubcheck ARGS`` in a fresh process, after ``extra`` (code run before the command)."""
    script = (f"import sys\n{extra}\nsys.argv = ['hubcheck', *{list(args)!r}]\nimport runpy\n"
              "runpy.run_module('hubcheck', run_name='__main__')\n")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, timeout=120,
                          check=False)


def test_lint_in_a_library_call_frees_its_trees():
    result = lint_repo(REFERENCE)
    assert result.model is not None
    assert process_end._THIS_PROCESS.kept is None
    assert not process_end.worth_skipping_teardown()


def test_only_the_last_value_is_kept(monkeypatch):
    class Tree:
        pass

    monkeypatch.setattr(process_end, "_THIS_PROCESS", process_end._ThisProcess(ends_after_command=True))
    first, second = Tree(), Tree()
    first_alive = weakref.ref(first)
    process_end.keep_until_exit(first)
    process_end.keep_until_exit(second)
    del first, second
    gc.collect()
    assert first_alive() is None, "the value kept earlier is freed when a later one is kept"
    assert isinstance(process_end._THIS_PROCESS.kept, Tree)
    gc.unfreeze()


def test_keep_until_exit_keeps_nothing_unless_the_process_ends_after_the_command():
    class Tree:
        pass

    tree = Tree()
    alive = weakref.ref(tree)
    process_end.keep_until_exit(tree)
    del tree
    gc.collect()
    assert alive() is None


def test_the_console_script_prints_everything_and_keeps_the_exit_code(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "hubconf.py").write_text("dependencies = ['torch']\n\n\ndef model():\n    return None\n")
    completed = _console("lint", str(repo), "--no-cache", "--format", "json", cwd=tmp_path)
    assert completed.returncode == 1, completed.stderr
    assert completed.stdout.rstrip().endswith("}"), completed.stdout[-300:]
    assert '"HUB101"' in completed.stdout
    assert completed.stderr == ""


def test_exit_handlers_still_run_when_the_teardown_is_skipped(tmp_path):
    marker = tmp_path / "atexit-ran"
    extra = f"import atexit, pathlib\natexit.register(pathlib.Path({str(marker)!r}).write_text, 'yes')"
    completed = _console("lint", str(REFERENCE), "--no-cache", cwd=tmp_path, extra=extra)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "No problems found" in completed.stdout
    assert marker.read_text() == "yes"


def test_a_closed_pipe_is_no_traceback(tmp_path):
    lister = subprocess.Popen([sys.executable, "-m", "hubcheck", "list", str(REFERENCE)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=tmp_path)
    assert lister.stdout is not None and lister.stderr is not None
    lister.stdout.close()  # the reader went away (`hubcheck list | head -0`)
    error = lister.stderr.read().decode()
    lister.wait(timeout=120)
    assert "Traceback" not in error, error


def test_a_profiled_run_ends_normally_so_the_profile_is_written(tmp_path):
    stats = tmp_path / "lint.prof"
    completed = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "hubcheck", "lint",
                                str(REFERENCE), "--no-cache"], capture_output=True, text=True, cwd=tmp_path,
                               timeout=120, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "No problems found" in completed.stdout
    assert stats.stat().st_size > 0
