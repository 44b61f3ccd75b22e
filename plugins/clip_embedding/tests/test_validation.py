"""Parameter validation of the clip_embedding client and command: caught before anything is sent.

The client points at a port where nothing listens, so a check that let a bad value through would
surface as a connection error instead of the expected InvalidInputError.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from cl_client.errors import InvalidInputError
from cl_plugin_clip_embedding.client import ClipEmbeddingClient
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def _unreachable_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CL_PROFILE", "CL_TOKEN", "CL_USERNAME", "CL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CL_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CL_AUTH_URL", NOWHERE)
    monkeypatch.setenv("CL_COMPUTE_URL", NOWHERE)
    monkeypatch.setenv("CL_MQTT_URL", "mqtt://127.0.0.1:9")
    monkeypatch.setenv("CL_NO_AUTH", "1")


def _submit(file: Path, **kwargs: object) -> None:
    from cl_client import Client

    async def run() -> None:
        async with Client() as client:
            await ClipEmbeddingClient(client.compute).submit(file, **kwargs)  # pyright: ignore[reportArgumentType]

    asyncio.run(run())


def test_a_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"^file not found: .*nope\.jpg$"):
        _submit(tmp_path / "nope.jpg")


def test_a_folder_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"^not a regular file: "):
        _submit(tmp_path)


@pytest.mark.parametrize("priority", [-1, 11])
def test_a_priority_out_of_range_is_rejected(priority: int) -> None:
    with pytest.raises(
        InvalidInputError, match=rf"^priority must be between 0 and 10, got {priority}$"
    ):
        _submit(MEDIA / "astronaut.jpg", priority=priority)


def test_normalize_must_be_a_boolean() -> None:
    with pytest.raises(InvalidInputError, match=r"^normalize must be true or false, got 'yes'$"):
        _submit(MEDIA / "astronaut.jpg", normalize="yes")


def test_the_command_rejects_a_missing_file_in_one_line(tmp_path: Path) -> None:
    from cl_client.cli.app import app

    missing = tmp_path / "nope.jpg"
    result = CliRunner().invoke(
        app, ["clip-embedding", "embed", str(MEDIA / "astronaut.jpg"), str(missing)]
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: file not found: {missing}"]
    assert result.stdout == ""


def test_the_command_rejects_a_bad_timeout() -> None:
    from cl_client.cli.app import app

    result = CliRunner().invoke(
        app, ["clip-embedding", "embed", str(MEDIA / "astronaut.jpg"), "-t", "0"]
    )
    assert result.exit_code == 2
    assert "Traceback" not in result.stdout + result.stderr


HELP_PROBE = """
import sys
from typer.testing import CliRunner
from cl_client.cli.app import app
result = CliRunner().invoke(app, sys.argv[1:])
assert result.exit_code == 0, result.output
assert "Usage: " in result.output, result.output
heavy = ("httpx", "paho", "numpy", "PIL", "rich.progress", "cl_plugin_clip_embedding.client")
print(sorted(name for name in heavy if name in sys.modules))
"""


@pytest.mark.parametrize(
    "args", [["clip-embedding", "--help"], ["clip-embedding", "embed", "--help"]]
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", HELP_PROBE, *args], capture_output=True, text=True, check=True
    )
    assert probe.stdout.strip() == "[]"


def test_the_plugin_registers_its_task_client() -> None:
    from cl_client.plugins import task_client

    assert task_client("clip_embedding") is ClipEmbeddingClient
