"""What the tests that build fresh virtual environments share."""

from __future__ import annotations

import shutil

import pytest


def uv_path() -> str:
    """The ``uv`` on PATH; the test fails (never skips) without one."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is needed to build a fresh environment (scripts/_uv.sh installs it)")
    return uv
