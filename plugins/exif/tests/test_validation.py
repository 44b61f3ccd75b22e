"""Parameter checks of the EXIF client and command: refused before anything is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from cl_client.client import Client
from cl_client.config import Overrides
from cl_client.errors import InvalidInputError
from cl_plugin_exif.client import ExifClient, validate_tags
from typer.testing import Result

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
ASTRONAUT = MEDIA / "astronaut.jpg"
# Nothing listens on the discard port: a request that got out would fail with a transport error.
NOWHERE = Overrides(compute_url="http://127.0.0.1:9", mqtt_url="mqtt://127.0.0.1:9", no_auth=True)

RunCl = Callable[..., Result]


def _submit_offline(file: Path, **params: object) -> None:
    async def go() -> None:
        async with Client(overrides=NOWHERE) as client:
            await ExifClient(client.compute).submit(file, **params)  # pyright: ignore[reportArgumentType]

    asyncio.run(go())


def test_tags_as_list_or_comma_separated_text() -> None:
    assert validate_tags(None) == []
    assert validate_tags([]) == []
    assert validate_tags("") == []
    assert validate_tags(["Make", " Model "]) == ["Make", "Model"]
    assert validate_tags("Make, Model,,EXIF:DateTimeOriginal,") == [
        "Make",
        "Model",
        "EXIF:DateTimeOriginal",
    ]
    assert validate_tags(["XMP-dc:Title", "GPSLatitude"]) == ["XMP-dc:Title", "GPSLatitude"]


@pytest.mark.parametrize("tags", [["Make", ""], ["Date Time"], "Make,Mo;del", ["a,b"], ["-x"]])
def test_bad_tag_names_are_refused(tags: list[str] | str) -> None:
    with pytest.raises(InvalidInputError, match="tag"):
        validate_tags(tags)


@pytest.mark.usefixtures("isolated")
def test_library_refuses_a_bad_tag_before_sending() -> None:
    with pytest.raises(InvalidInputError, match="is not an EXIF tag name"):
        _submit_offline(ASTRONAUT, tags=["Make", "bad tag"])


@pytest.mark.usefixtures("isolated")
def test_library_refuses_a_priority_out_of_range() -> None:
    with pytest.raises(InvalidInputError, match="priority must be between 0 and 10"):
        _submit_offline(ASTRONAUT, priority=42)


def test_command_refuses_a_bad_tag_in_one_line(cl_offline: RunCl) -> None:
    result = cl_offline("exif", "extract", str(ASTRONAUT), "--tag", "Make", "--tag", "GPS Position")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: tags: 'GPS Position' is not an EXIF tag name (letters, digits, '_', '-', ':')\n"
    )
    assert result.stdout == ""


def test_command_refuses_an_empty_tag(cl_offline: RunCl) -> None:
    result = cl_offline("exif", "extract", str(ASTRONAUT), "--tag", ",")
    assert result.exit_code == 2
    assert result.stderr == "error: --tag needs a tag name, e.g. --tag Make\n"


def test_command_refuses_a_missing_file_in_one_line(cl_offline: RunCl, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jpg"
    result = cl_offline("exif", "extract", str(missing))
    assert result.exit_code == 2
    assert result.stderr == f"error: file not found: {missing}\n"
    assert "Traceback" not in result.output
