"""Human output of hand-built EXIF results."""

from __future__ import annotations

from pathlib import Path

import pytest
from cl_client.cli import Output
from cl_client.models import Job, JsonObject
from cl_plugin_exif.client import ExifResult, parse_exif_result
from cl_plugin_exif.render import format_gps, render_exif

CANON: JsonObject = {
    "make": "Canon",
    "model": "EOS 5D",
    "date_time_original": "2024:06:01 10:00:00",
    "create_date": "2024:06:01 10:00:00",
    "image_width": 4000,
    "image_height": 3000,
    "orientation": 1,
    "iso": 100,
    "f_number": 2.8,
    "exposure_time": "1/250",
    "focal_length": 50.0,
    "gps_latitude": 12.97,
    "gps_longitude": 77.59,
    "gps_altitude": 920.0,
    "software": None,
    "raw_metadata": {"Make": "Canon", "Model": "EOS 5D", "ISO": 100, "LensModel": "EF50mm"},
}


def _job(params: JsonObject | None = None) -> Job:
    return Job(
        job_id="6c1f",
        task_type="exif",
        status="completed",
        params={"input_path": "input/IMG_1.jpg", "output_path": "output/exif_metadata.json"}
        | (params or {}),
    )


def test_summary_table_in_reading_order(capsys: pytest.CaptureFixture[str]) -> None:
    render_exif(parse_exif_result(_job(), CANON, []), Output())
    # The heading (input and job id) is the frame's; the renderer prints only the table.
    assert capsys.readouterr().out.splitlines() == [
        "field         value",
        "Make          Canon",
        "Model         EOS 5D",
        "Date taken    2024:06:01 10:00:00",
        "Created       2024:06:01 10:00:00",
        "Size          4000×3000",
        "Orientation   1",
        "ISO           100",
        "Aperture      f/2.8",
        "Exposure      1/250 s",
        "Focal length  50 mm",
        "GPS           12.970000, 77.590000 (12°58'12\"N 77°35'24\"E)",
        "Altitude      920 m",
    ]


def test_requested_tags_replace_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    job = _job({"tags": ["Make", "LensModel", "Flash"]})
    render_exif(parse_exif_result(job, CANON, [Path("/tmp/x/exif_metadata.json")]), Output())
    assert capsys.readouterr().out.splitlines() == [
        "field      value",
        "Make       Canon",
        "LensModel  EF50mm",
        "Flash      —",
        "saved      /tmp/x/exif_metadata.json",
    ]


def test_raw_shows_every_tag(capsys: pytest.CaptureFixture[str]) -> None:
    render_exif(parse_exif_result(_job(), CANON, []), Output(), raw=True)
    assert capsys.readouterr().out.splitlines() == [
        "field      value",
        "Make       Canon",
        "Model      EOS 5D",
        "ISO        100",
        "LensModel  EF50mm",
    ]


def test_no_metadata_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    empty: JsonObject = {name: None for name in CANON if name != "raw_metadata"}
    empty["raw_metadata"] = {}
    result = parse_exif_result(_job(), empty, [])
    assert result.is_empty
    render_exif(result, Output())
    assert capsys.readouterr().out == "no EXIF metadata\n"


def test_gps_in_decimal_and_sexagesimal() -> None:
    assert format_gps(28.5238889, -80.6508333) == ("28.523889, -80.650833 (28°31'26\"N 80°39'3\"W)")
    assert format_gps(-33.8568, 151.2153) == "-33.856800, 151.215300 (33°51'24\"S 151°12'55\"E)"


def test_fields_of_the_wrong_type_read_as_missing() -> None:
    odd: JsonObject = {
        "make": 7,
        "iso": "100",
        "f_number": True,
        "exposure_time": 0.004,
        "image_width": 512.0,
        "raw_metadata": ["not", "a", "dict"],
    }
    result = parse_exif_result(_job(), odd, [])
    assert result.make == "7"
    assert result.iso is None
    assert result.f_number is None
    assert result.exposure_time == "0.004"
    assert result.image_width == 512
    assert result.raw_metadata == {}


def test_json_carries_the_parsed_metadata() -> None:
    result: ExifResult = parse_exif_result(_job(), CANON, [])
    doc = result.to_json()
    assert doc["params"] == {
        "input_path": "input/IMG_1.jpg",
        "output_path": "output/exif_metadata.json",
    }
    assert doc["result"] == CANON
    assert "downloaded" not in doc
