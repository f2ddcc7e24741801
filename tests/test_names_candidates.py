"""What a file's names say statically: URL tables built by comprehension, names bound in branches, defaults."""

import ast
import textwrap

from hubcheck.static.names import FileNames


def _read(source: str):
    tree = ast.parse(textwrap.dedent(source))
    function = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef))
    call = next(node for node in ast.walk(function) if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name) and node.func.id == "load")
    return FileNames(tree), call, (function,)


def test_a_comprehension_table_and_a_name_bound_in_two_branches_give_every_url():
    names, call, chain = _read('''
        BASE = "https://example.com/w"
        def build(which=None):
            known = {name: f"{BASE}/{name}.pt" for name in ("small", "large")}
            if which:
                url = known.get(which, which)
            else:
                url = known.get("large")
            load(url)
    ''')
    assert names.literal_candidates(call.args[0], chain) == ["https://example.com/w/small.pt",
                                                             "https://example.com/w/large.pt"]


def test_a_literal_key_picks_its_value_and_a_missing_one_its_default():
    names, call, chain = _read('''
        def build():
            known = {name: name + ".pt" for name in ["a", "b"]}
            load(known.get("b"), known.get("c", "fallback.pt"), known["c"])
    ''')
    assert [names.literal_candidates(arg, chain) for arg in call.args] == [["b.pt"], ["fallback.pt"], []]


def test_a_comprehension_over_anything_but_literal_strings_is_not_read():
    names, call, chain = _read('''
        def build(choices):
            known = {name: name + ".pt" for name in choices}
            load(known.get("b"))
    ''')
    assert names.literal_candidates(call.args[0], chain) == []


def test_a_parameters_default_is_known_unless_the_body_rebinds_it():
    names, call, chain = _read('''
        def build(check_hash=True, strict=True, *, progress=False):
            strict = False
            load(check_hash, strict, progress, undefined)
    ''')
    defaults = [names.parameter_default(arg, chain) for arg in call.args]
    assert [ast.unparse(d) if d is not None else None for d in defaults] == ["True", None, "False", None]
