"""Parameter checks of the HLS client and command: refused before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from cl_client.errors import InvalidInputError
from cl_client.testing import OFFLINE_ENV, ClRunner, run_with_compute
from cl_plugin_hls_streaming.client import (
    DEFAULT_VARIANTS,
    HlsStreamingClient,
    HlsVariant,
    parse_variant,
    validate_variants,
)

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
VIDEO = MEDIA / "astronaut.mp4"


def _submit_offline(file: Path, **params: object) -> None:
    run_with_compute(
        OFFLINE_ENV,
        lambda compute: HlsStreamingClient(compute).submit(file, **params),  # pyright: ignore[reportArgumentType]
    )


@pytest.mark.parametrize(
    ("text", "variant"),
    [
        ("720:3500", HlsVariant(720, 3500)),
        ("720p:3500k", HlsVariant(720, 3500)),
        (" 480 : 1500 ", HlsVariant(480, 1500)),
        ("480", HlsVariant(480, None)),
        ("360P", HlsVariant(360, None)),
        ("auto:800", HlsVariant(None, 800)),
        ("AUTO", HlsVariant(None, None)),
        ("1080:auto", HlsVariant(1080, None)),
    ],
)
def test_variant_text(text: str, variant: HlsVariant) -> None:
    assert parse_variant(text) == variant


@pytest.mark.parametrize(
    "text", ["", "720x3500", "hd", "720:", ":3500", "-720", "7.5:100", "720:3500:1"]
)
def test_malformed_variant_text(text: str) -> None:
    with pytest.raises(InvalidInputError, match=r"is not HEIGHT\[:KBITS\]"):
        parse_variant(text)


def test_variant_values_out_of_range() -> None:
    with pytest.raises(InvalidInputError, match="at least 100 kbit/s, got 99"):
        parse_variant("480:99")
    with pytest.raises(InvalidInputError, match="height in pixels > 0, got 0"):
        parse_variant("0:800")
    with pytest.raises(InvalidInputError, match="at least one variant"):
        validate_variants([])
    with pytest.raises(InvalidInputError, match="variant 480:1500 is given twice"):
        validate_variants([HlsVariant(480, 1500), HlsVariant(720, 3500), HlsVariant(480, 1500)])
    with pytest.raises(InvalidInputError, match="height in pixels > 0, got -1"):
        validate_variants([HlsVariant(-1, None)])


def test_default_variants_match_the_server() -> None:
    assert [v.to_json() for v in DEFAULT_VARIANTS] == [
        {"resolution": 720, "bitrate": 3500},
        {"resolution": 480, "bitrate": 1500},
    ]
    assert validate_variants(DEFAULT_VARIANTS) == list(DEFAULT_VARIANTS)


@pytest.mark.usefixtures("cl_isolated")
def test_library_refuses_bad_variants_before_sending() -> None:
    with pytest.raises(InvalidInputError, match="at least one variant"):
        _submit_offline(VIDEO, variants=[])
    with pytest.raises(InvalidInputError, match="bitrate"):
        _submit_offline(VIDEO, variants=[HlsVariant(480, 10)])
    with pytest.raises(InvalidInputError, match="priority"):
        _submit_offline(VIDEO, priority=99)


def test_command_bad_variant_is_one_line(cl_offline: ClRunner) -> None:
    result = cl_offline(
        "hls-streaming", "generate-manifest", str(VIDEO), "-V", "720:3500", "-V", "1080p60"
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "error: variant '1080p60' is not HEIGHT[:KBITS] (e.g. 720:3500, 480, auto:800)\n"
    )
    assert result.stdout == ""


@pytest.mark.parametrize("variant", ["9" * 5000, "720:" + "9" * 5000, "1" * 10])
def test_command_huge_variant_number_is_one_line(cl_offline: ClRunner, variant: str) -> None:
    result = cl_offline("hls-streaming", "generate-manifest", "--variant", variant, str(VIDEO))
    assert result.exit_code == 2, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("error: variant ") and "digits) is far too large" in line
    assert len(line) < 200 and "Traceback" not in result.output


def test_command_duplicate_variant_is_one_line(cl_offline: ClRunner) -> None:
    result = cl_offline(
        "hls-streaming", "generate-manifest", str(VIDEO), "-V", "480", "--variant", "480p"
    )
    assert result.exit_code == 2
    assert result.stderr == "error: variant 480:auto is given twice\n"


def test_command_low_bitrate_is_one_line(cl_offline: ClRunner) -> None:
    result = cl_offline("hls-streaming", "generate-manifest", str(VIDEO), "--variant", "240:64")
    assert result.exit_code == 2
    assert result.stderr == "error: variant bitrate must be at least 100 kbit/s, got 64\n"


def test_command_missing_file_is_one_line(cl_offline: ClRunner, tmp_path: Path) -> None:
    missing = tmp_path / "gone.mp4"
    result = cl_offline("hls-streaming", "generate-manifest", str(missing))
    assert result.exit_code == 2
    assert result.stderr == f"error: file not found: {missing}\n"
    assert "Traceback" not in result.output
