"""The examples in the docstrings of every galseg module run and give what they show."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import galseg

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(galseg.__path__, "galseg.")
    if info.name != "galseg.__main__"  # importing it runs the CLI
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, verbose=False)
    assert result.failed == 0
    if ">>>" in inspect.getsource(module):
        assert result.attempted > 0  # its examples were found, not silently skipped
