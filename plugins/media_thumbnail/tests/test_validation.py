"""Parameter checks of the thumbnail client and command: refused before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from cl_client.errors import InvalidInputError
from cl_client.testing import OFFLINE_ENV, ClRunner, run_with_compute
from cl_plugin_media_thumbnail.client import MediaThumbnailClient, validate_box

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
CHELSEA = MEDIA / "chelsea.png"


def _submit_offline(file: Path, **params: object) -> None:
    run_with_compute(
        OFFLINE_ENV,
        lambda compute: MediaThumbnailClient(compute).submit(file, **params),  # pyright: ignore[reportArgumentType]
    )


@pytest.mark.parametrize(("width", "height"), [(None, None), (1, None), (None, 1), (4000, 3000)])
def test_positive_or_absent_dimensions_are_accepted(width: int | None, height: int | None) -> None:
    validate_box(width, height)


@pytest.mark.parametrize(
    ("width", "height", "message"),
    [
        (0, None, "width must be at least 1, got 0"),
        (None, -3, "height must be at least 1, got -3"),
        (100, 0, "height must be at least 1, got 0"),
    ],
)
def test_zero_or_negative_dimensions_are_refused(
    width: int | None, height: int | None, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        validate_box(width, height)


@pytest.mark.usefixtures("cl_isolated")
def test_library_refuses_bad_parameters_before_sending(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="width"):
        _submit_offline(CHELSEA, width=-1)
    with pytest.raises(InvalidInputError, match="priority"):
        _submit_offline(CHELSEA, priority=-1)
    with pytest.raises(InvalidInputError, match="file not found"):
        _submit_offline(tmp_path / "gone.mp4")


def test_command_bad_width_is_one_line(cl_offline: ClRunner) -> None:
    result = cl_offline(
        "media-thumbnail", "generate", str(CHELSEA), "--width", "0", "--height", "10"
    )
    assert result.exit_code == 2
    assert result.stderr == "error: width must be at least 1, got 0\n"
    assert result.stdout == ""


def test_command_bad_height_is_one_line(cl_offline: ClRunner) -> None:
    result = cl_offline("media-thumbnail", "generate", str(CHELSEA), "--height", "-20")
    assert result.exit_code == 2
    assert result.stderr == "error: height must be at least 1, got -20\n"


def test_command_missing_file_is_one_line(cl_offline: ClRunner, tmp_path: Path) -> None:
    missing = tmp_path / "gone.mp4"
    result = cl_offline("media-thumbnail", "generate", str(missing))
    assert result.exit_code == 2
    assert result.stderr == f"error: file not found: {missing}\n"
    assert "Traceback" not in result.output
