"""Every package directory is installed: a missing one would only show up in a non-editable install
(.ci/package tries the built wheel; tests/test_readme.py checks README's commands against CI's)."""

from __future__ import annotations

import tomllib

from support.paths import ROOT


def test_every_package_directory_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    for prefix, directory in config["package-dir"].items():
        for init in (ROOT / directory).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / directory).parts
            assert ".".join((prefix, *relative)) in listed, init
