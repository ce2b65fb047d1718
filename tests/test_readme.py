"""The README's Python examples run as written."""

from __future__ import annotations

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, capsys):
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {})
    assert capsys.readouterr().out  # every example prints something


def test_readme_has_examples_and_the_two_commands():
    text = README.read_text()
    assert len(BLOCKS) >= 2
    assert 'pip install -e ".[examples]" && python examples/train_digits.py' in text
    assert 'pip install -e ".[dev]" && python -m pytest' in text
