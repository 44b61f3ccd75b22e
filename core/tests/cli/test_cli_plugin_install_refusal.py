"""``cl plugins install`` refuses a plugin made for another core, before touching this
environment (a real package built from a folder the test writes); shell completion of profile
names, profile keys and job ids from the journal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cl_client.cli.completion import (
    complete_job_ids,
    complete_profile_keys,
    complete_profile_names,
)

from .conftest import RunCl

pytestmark = pytest.mark.timeout(300)

PYPROJECT = """\
[project]
name = "cl-plugin-too-new"
version = "1.0.0"
requires-python = ">=3.11"
dependencies = ["cl-client>=9.0,<10"]

[project.entry-points."cl.plugins"]
too-new = "cl_plugin_too_new"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["cl_plugin_too_new"]
"""


def test_a_plugin_for_another_core_is_refused_before_installing(
    cl: RunCl, isolated: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "too-new"
    (folder / "cl_plugin_too_new").mkdir(parents=True)
    (folder / "cl_plugin_too_new" / "__init__.py").write_text("")
    (folder / "pyproject.toml").write_text(PYPROJECT)
    before = json.loads(cl("plugins", "--json").stdout)
    result = cl("plugins", "install", str(folder))
    assert result.exit_code == 2, result.output
    line = result.stderr.strip().splitlines()[-1]
    assert "cl-plugin-too-new 1.0.0 needs cl-client<10,>=9.0" in line
    assert "but this cl is cl-client 0." in line
    assert json.loads(cl("plugins", "--json").stdout) == before  # nothing installed

    missing = cl("plugins", "install", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "no such plugin folder" in missing.stderr


def test_completion_offers_profiles_keys_and_recent_job_ids(
    cl: RunCl, isolated: Path, tmp_path: Path
) -> None:
    from cl_client.journal import InputStat, Journal

    assert cl("profile", "add", "nas-one", "--compute-url", "http://nas:8002").exit_code == 0
    assert "nas-one" in complete_profile_names("nas")
    assert complete_profile_names("zzz") == []
    assert "compute_url" in complete_profile_keys("comp")
    with Journal() as journal:
        for job_id in ("aaaa-1", "aaab-2", "bbbb-3"):
            row = journal.record_pending("k", "http://x", "hash", {}, InputStat("/in", 1, 1))
            journal.record_job(row, job_id)
    assert complete_job_ids("aaa") == ["aaab-2", "aaaa-1"]  # newest first
    assert complete_job_ids("") == ["bbbb-3", "aaab-2", "aaaa-1"]
