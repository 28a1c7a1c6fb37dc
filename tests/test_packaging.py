"""The repository keeps its promises to a newcomer: README's commands are the ones CI runs, and every
package directory is installed (a missing one would only show up in a non-editable install)."""

from __future__ import annotations

import re
import tomllib

from support.paths import ROOT


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_has_the_two_commands_and_ci_runs_the_test_one_verbatim() -> None:
    demo, test = _readme_commands()
    assert "tasklens demo" in demo
    assert "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci, f"{test!r} must be a line of .ci/run"


def test_every_package_directory_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    for prefix, directory in config["package-dir"].items():
        for init in (ROOT / directory).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / directory).parts
            assert ".".join((prefix, *relative)) in listed, init
