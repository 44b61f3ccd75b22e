"""Shared by the tests that cross packages: their helpers (``fresh_env``) are importable."""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib does not put test folders on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))
