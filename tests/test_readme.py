"""The README's shown outputs come from bench/readme_outputs.py; its Python tour runs as a doctest."""

import doctest
import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _outputs_module(name="readme_outputs"):
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_console_command_runs_in_a_fresh_clone_as_far_as_can_be_told_without_running_it():
    """Each `$ command` is the project's and reads only files a clone has (no ../shared); running
    them all is bench/readme_check.py's job (minutes), recorded in bench/results/readme_check.md."""
    check = _outputs_module("readme_check")
    commands = check.console_commands(README)
    assert len(commands) >= 15 and "surrogate datasets" in commands
    try:
        tracked = check.tracked_files(ROOT)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    assert check.static_problems(commands, tracked) == []
    assert check.static_problems(["surrogate import ../shared/x.csv --out runs/x.h5", "python x.py",
                                  "surrogate info untracked.h5"], tracked) == [
        "surrogate import ../shared/x.csv --out runs/x.h5: reads ../shared/x.csv, outside a fresh clone",
        "python x.py: runs 'python', not `surrogate`",
        "surrogate info untracked.h5: reads untracked.h5, which the repository does not track"]


def test_the_readme_says_how_to_get_the_command_after_make_demo():
    two_commands = README.split("## Two commands", 1)[1].split("## CLI tour", 1)[0]
    assert ". .venv/bin/activate" in two_commands


def test_every_output_marker_heads_a_console_block_that_shows_its_command():
    found = _outputs_module().blocks(README)
    assert len(found) >= 5
    lines = README.splitlines()
    for start, end, marker in found:
        assert lines[start] == f"$ {marker.group(3)}", f"README line {start + 1}: block does not start with its command"


def test_malformed_markers_are_reported():
    module = _outputs_module()
    with pytest.raises(ValueError, match="must be followed by a ```console fence"):
        module.blocks("<!-- output: surrogate datasets -->\ntext\n")
    with pytest.raises(ValueError, match="malformed output marker"):
        module.blocks("<!-- output surrogate datasets -->\n")


@pytest.mark.slow
def test_python_tour_runs_as_shown(one_torch_thread, monkeypatch):
    monkeypatch.chdir(ROOT)
    source = "\n".join(re.findall(r"```python\n(.*?)```", README, flags=re.S))
    test = doctest.DocTestParser().get_doctest(source, {}, "README.md", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0, f"{runner.failures} README example(s) differ from what the code prints"
