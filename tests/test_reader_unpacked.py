"""Names unpacked from a hubconf function's tuple: decided from its returns where they are displays."""

from pathlib import Path

from hubcheck.static.reader import read_hubconf


def _model(tmp_path: Path, source: str):
    (tmp_path / "hubconf.py").write_text(source, encoding="utf-8")
    return read_hubconf(tmp_path)


def test_unpacked_function_and_constant_are_told_apart(tmp_path):
    model = _model(tmp_path, (
        "def build():\n"
        "    return 1\n"
        "def _pair():\n"
        "    table = {'a': 1}\n"
        "    return build, table\n"
        "factory, table = _pair()\n"
    ))
    assert sorted(e.name for e in model.entrypoints) == ["build", "factory"]
    assert not [u for u in model.uncertain if u.name in ("factory", "table")]


def test_a_local_shadowing_a_module_name_keeps_the_name_unknown(tmp_path):
    """Inside _pair, `build` is its parameter, not the module's function: not decided from the global."""
    model = _model(tmp_path, (
        "def build():\n"
        "    return 1\n"
        "def _pair(build=None):\n"
        "    return build, 2\n"
        "made, two = _pair()\n"
    ))
    assert "made" in {u.name for u in model.uncertain}
    assert "two" not in {u.name for u in model.uncertain}


def test_path_members_outside_pathlibs_are_still_unknown(tmp_path):
    """`.parents[0]` of something that is not a pathlib path may be anything."""
    model = _model(tmp_path, (
        "import mylib\n"
        "base = mylib.Path(__file__).parents[0]\n"
        "listing = mylib.Path(__file__).glob('*')\n"
    ))
    assert {u.name for u in model.uncertain} == {"base", "listing"}


def test_uncertainty_names_the_binding_that_decides(tmp_path):
    """fairseq's `try: from setuptools import sandbox` leaves the name unbound otherwise: an unbound name is never
    listed, so the import alone decides, and the reason says so; an unpacking names what it unpacks."""
    model = _model(tmp_path, (
        "try:\n"
        "    from setuptools import sandbox\n"
        "except ImportError:\n"
        "    pass\n"
        "import data\n"
        "x, y = data.train[0]\n"
    ))
    reasons = {u.name: u.reason for u in model.uncertain}
    assert reasons["sandbox"].startswith("cannot tell statically whether sandbox imported from setuptools is callable")
    assert reasons["x"] == "x is unpacked from data.train[0], whose items are decided at run time"
