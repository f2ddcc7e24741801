"""A decorator wrapper's defaults that read the decorator factory's parameters show the values the call gives."""

import inspect
import textwrap
from pathlib import Path

from hubcheck.static.reader import read_hubconf

_DECORATED = textwrap.dedent('''
    def pretrained_model(checkpoints, default=None, strict_default=True):
        def inner(model_func):
            def model_def(pretrained: bool = False, checkpoint: str = default, strict=strict_default, **kwargs):
                return model_func(**kwargs)
            return model_def
        return inner

    @pretrained_model({"in1k": "https://example.com/w.pth"}, default="in1k")
    def by_keyword(width=8):
        """Lost to the wrapper."""

    @pretrained_model({}, "k400", False)
    def by_position(width=8):
        """Lost to the wrapper."""

    @pretrained_model({})
    def by_factory_default(width=8):
        """Lost to the wrapper."""
''')


def test_closure_defaults_show_the_decorator_calls_values_as_python_does(tmp_path: Path):
    (tmp_path / "hubconf.py").write_text(_DECORATED, encoding="utf-8")
    namespace: dict = {}
    exec(compile(_DECORATED, "decorated", "exec", dont_inherit=True), namespace)
    model = read_hubconf(tmp_path)
    for name in ("by_keyword", "by_position", "by_factory_default"):
        assert model.entrypoint(name).signature == str(inspect.signature(namespace[name])), name
    assert model.entrypoint("by_keyword").signature == \
        "(pretrained: bool = False, checkpoint: str = 'in1k', strict=True, **kwargs)"


def test_a_closure_default_the_call_does_not_show_says_so(tmp_path: Path):
    (tmp_path / "hubconf.py").write_text(textwrap.dedent('''
        ARGS = ({}, "in1k")

        def pretrained_model(checkpoints, default=None):
            def inner(model_func):
                def model_def(checkpoint=default):
                    return model_func()
                return model_def
            return inner

        @pretrained_model(*ARGS)
        def unpacked(width=8):
            """Lost to the wrapper."""
    '''), encoding="utf-8")
    assert read_hubconf(tmp_path).entrypoint("unpacked").signature == \
        "(checkpoint=<given to pretrained_model(...)>)"


def test_a_name_the_factory_computes_says_so(tmp_path: Path):
    (tmp_path / "hubconf.py").write_text(textwrap.dedent('''
        def pretrained_model(default=None):
            default = default or "in1k"
            def inner(model_func):
                def model_def(checkpoint=default):
                    return model_func()
                return model_def
            return inner

        @pretrained_model()
        def rebound(width=8):
            """Lost to the wrapper."""
    '''), encoding="utf-8")
    assert read_hubconf(tmp_path).entrypoint("rebound").signature == "(checkpoint=<computed in pretrained_model(...)>)"
