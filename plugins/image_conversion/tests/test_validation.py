"""Parameter checks of the image conversion client and command: refused before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from cl_client.errors import InvalidInputError
from cl_client.testing import OFFLINE_ENV, ClRunner, run_with_compute
from cl_plugin_image_conversion.client import (
    FORMATS,
    ImageConversionClient,
    expected_output_path,
    validate_format,
    validate_quality,
)

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
CHELSEA = MEDIA / "chelsea.png"


def _submit_offline(file: Path, **params: object) -> None:
    run_with_compute(
        OFFLINE_ENV,
        lambda compute: ImageConversionClient(compute).submit(file, **params),  # pyright: ignore[reportArgumentType]
    )


def test_every_server_format_is_accepted_in_any_case() -> None:
    assert FORMATS == ("png", "jpg", "jpeg", "webp", "gif", "bmp", "tiff")
    for fmt in FORMATS:
        assert validate_format(fmt) == fmt
        assert validate_format(fmt.upper()) == fmt


@pytest.mark.parametrize("fmt", ["heic", "", "tif", "png8", "svg"])
def test_other_formats_are_refused(fmt: str) -> None:
    with pytest.raises(InvalidInputError, match="format must be one of png, jpg, jpeg"):
        validate_format(fmt)


@pytest.mark.parametrize("quality", [1, 85, 100])
def test_quality_in_range(quality: int) -> None:
    assert validate_quality(quality) == quality


@pytest.mark.parametrize("quality", [0, -5, 101, 1000])
def test_quality_out_of_range(quality: int) -> None:
    with pytest.raises(
        InvalidInputError, match=f"quality must be between 1 and 100, got {quality}"
    ):
        validate_quality(quality)


def test_output_name_follows_the_server() -> None:
    assert expected_output_path("photo.png", "webp") == "output/converted_photo.webp"
    assert expected_output_path("a.b.jpg", "jpeg") == "output/converted_a.b.jpg"
    assert expected_output_path("scan.tif", "tiff") == "output/converted_scan.tiff"


@pytest.mark.usefixtures("cl_isolated")
def test_library_refuses_bad_parameters_before_sending() -> None:
    with pytest.raises(InvalidInputError, match="quality"):
        _submit_offline(CHELSEA, format="png", quality=0)
    with pytest.raises(InvalidInputError, match="format"):
        _submit_offline(CHELSEA, format="avif")
    with pytest.raises(InvalidInputError, match="priority"):
        _submit_offline(CHELSEA, format="png", priority=11)


def test_command_bad_quality_is_one_line(cl_offline: ClRunner) -> None:
    result = cl_offline(
        "image-conversion", "convert", str(CHELSEA), "-f", "jpg", "--quality", "101"
    )
    assert result.exit_code == 2
    assert result.stderr == "error: quality must be between 1 and 100, got 101\n"
    assert result.stdout == ""


def test_command_bad_format_is_one_line(cl_offline: ClRunner) -> None:
    result = cl_offline("image-conversion", "convert", str(CHELSEA), "--format", "heic")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: format must be one of png, jpg, jpeg, webp, gif, bmp, tiff; got 'heic'\n"
    )


def test_command_without_format_is_one_line(cl_offline: ClRunner) -> None:
    result = cl_offline("image-conversion", "convert", str(CHELSEA))
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --format is required: png, jpg, jpeg, webp, gif, bmp or tiff\n"
    )


def test_command_missing_file_is_one_line(cl_offline: ClRunner, tmp_path: Path) -> None:
    missing = tmp_path / "gone.png"
    result = cl_offline("image-conversion", "convert", str(missing), "-f", "png")
    assert result.exit_code == 2
    assert result.stderr == f"error: file not found: {missing}\n"
    assert "Traceback" not in result.output
