# Copyright 2026 aloe_ros maintainers
# Licensed under the Apache License, Version 2.0
"""Fixtures of the learning tests; puts this folder on sys.path for ``learning_helpers`` (importlib mode)."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from learning_helpers import tiny_config  # noqa: E402


@pytest.fixture
def cfg():
    """Tiny learner config."""
    return tiny_config()
