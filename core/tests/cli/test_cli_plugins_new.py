"""``cl plugins new`` refuses a bad name or an existing folder in one line (exit 2) and never
overwrites; by default it writes ./cl-plugin-NAME for the task type NAME with - as _. (The written
package is installed and its own tests run in tests/test_plugins_new.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cl_client.cli.app import app
from typer.testing import CliRunner


def _new(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["plugins", "new", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Word_Count"], "error: invalid plugin name 'Word_Count': use lower-case letters"),
        (["cl-plugin-foo"], "error: give the plugin's name without 'cl-plugin-'"),
        (["profile"], "error: 'profile' is a built-in cl command"),
        (["foo", "--task", "a/b"], "error: invalid task type 'a/b'"),
    ],
)
def test_bad_names_are_one_line(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = _new(*args)
    assert code == 2
    assert stderr.startswith(message)
    assert len(stderr.strip().splitlines()) == 1
    assert stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "keep.txt").write_text("mine\n")
    code, _, stderr = _new("word-count", "--dir", str(target))
    assert code == 2
    assert stderr.strip() == f"error: {target} already exists: choose a new folder with --dir"
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # no staging folder left


def test_the_default_folder_and_task_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["plugins", "--json", "new", "word-count"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["folder"] == str(tmp_path / "cl-plugin-word-count")
    assert doc["task_type"] == "word_count"
    assert doc["executor"] is True
    for relative in doc["files"]:
        assert (tmp_path / "cl-plugin-word-count" / relative).is_file()
    assert "src/cl_plugin_word_count/client.py" in doc["files"]
    again = CliRunner().invoke(app, ["plugins", "new", "word-count"])
    assert again.exit_code == 2


def test_a_protocol_task_type_gets_no_executor(tmp_path: Path) -> None:
    folder = tmp_path / "md5sum"
    code, _, stderr = _new("md5sum", "--task", "hash", "--dir", str(folder))
    assert code == 0, stderr
    assert not (folder / "src" / "cl_plugin_md5sum" / "executor.py").exists()
    pyproject = (folder / "pyproject.toml").read_text()
    assert 'md5sum = "cl_plugin_md5sum.plugin"' in pyproject
    assert "cl_local_server.executors" not in pyproject
    assert (
        'task_type: ClassVar[str] = "hash"'
        in (folder / "src" / "cl_plugin_md5sum" / "client.py").read_text()
    )
