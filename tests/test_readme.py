"""The README's shown outputs come from bench/readme_outputs.py; its Python tour runs as a doctest."""

import doctest
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _outputs_module():
    spec = importlib.util.spec_from_file_location("readme_outputs", ROOT / "bench" / "readme_outputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
