"""lint_repo pauses the cyclic garbage collector while it works and leaves the caller's setting as it found it."""

from __future__ import annotations

import gc
import sys

import pytest

from hubcheck.lint import lint_repo
from tests.helpers import PROJECT

REFERENCE = PROJECT / "reference_repo"


@pytest.mark.parametrize("enabled", [True, False])
def test_the_callers_collector_setting_is_restored(enabled):
    was = gc.isenabled()
    collections_inside: list[str] = []

    def watch(phase: str, info: dict) -> None:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name == "_check" and frame.f_code.co_filename.endswith("lint.py"):
                collections_inside.append(phase)
                return
            frame = frame.f_back

    gc.callbacks.append(watch)
    try:
        (gc.enable if enabled else gc.disable)()
        result = lint_repo(REFERENCE)
        assert gc.isenabled() is enabled
    finally:
        gc.callbacks.pop()
        (gc.enable if was else gc.disable)()
    assert result.model is not None and result.model.entrypoints
    assert not collections_inside, "no collection should run while lint builds the model and runs the rules"


def test_the_collector_is_back_on_when_lint_fails(tmp_path):
    (tmp_path / "hubcheck.toml").write_text("[lint]\nselect = 3\n")
    assert gc.isenabled()
    with pytest.raises(Exception, match="select"):
        lint_repo(tmp_path)
    assert gc.isenabled()
