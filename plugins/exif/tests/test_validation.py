"""Parameter checks of the EXIF client and command: refused before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from cl_client.errors import InvalidInputError
from cl_client.testing import OFFLINE_ENV, ClRunner, run_with_compute
from cl_plugin_exif.client import ExifClient, validate_tags

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
ASTRONAUT = MEDIA / "astronaut.jpg"


def _submit_offline(file: Path, **params: object) -> None:
    run_with_compute(
        OFFLINE_ENV,
        lambda compute: ExifClient(compute).submit(file, **params),  # pyright: ignore[reportArgumentType]
    )


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


@pytest.mark.usefixtures("cl_isolated")
def test_library_refuses_a_bad_tag_before_sending() -> None:
    with pytest.raises(InvalidInputError, match="is not an EXIF tag name"):
        _submit_offline(ASTRONAUT, tags=["Make", "bad tag"])


@pytest.mark.usefixtures("cl_isolated")
def test_library_refuses_a_priority_out_of_range() -> None:
    with pytest.raises(InvalidInputError, match="priority must be between 0 and 10"):
        _submit_offline(ASTRONAUT, priority=42)


def test_command_refuses_a_bad_tag_in_one_line(cl_offline: ClRunner) -> None:
    result = cl_offline("exif", "extract", str(ASTRONAUT), "--tag", "Make", "--tag", "GPS Position")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: tags: 'GPS Position' is not an EXIF tag name (letters, digits, '_', '-', ':')\n"
    )
    assert result.stdout == ""


def test_command_refuses_an_empty_tag(cl_offline: ClRunner) -> None:
    result = cl_offline("exif", "extract", str(ASTRONAUT), "--tag", ",")
    assert result.exit_code == 2
    assert result.stderr == "error: --tag needs a tag name, e.g. --tag Make\n"


def test_command_refuses_a_missing_file_in_one_line(cl_offline: ClRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jpg"
    result = cl_offline("exif", "extract", str(missing))
    assert result.exit_code == 2
    assert result.stderr == f"error: file not found: {missing}\n"
    assert "Traceback" not in result.output
