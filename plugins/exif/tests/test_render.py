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
    assert result.iso == 100  # ExifTool's printed form of a number
    assert result.f_number is None
    assert result.exposure_time == "1/250"
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


#: What the January-2026 reference worker wrote for astronaut.jpg without ``tags``: it ran
#: ``exiftool -G`` (group-prefixed keys, printed values) and left every field null (PROTOCOL 5.3).
GROUPED: JsonObject = {
    **{name: None for name in CANON if name != "raw_metadata"},
    "raw_metadata": {
        "ExifTool:ExifToolVersion": 12.76,
        "File:FileName": "input.jpg",
        "File:Directory": "/srv/media/jobs/6c1f/input",
        "File:FileSize": "47 kB",
        "File:FileAccessDate": "2026:01:12 09:14:03+00:00",
        "File:FileType": "JPEG",
        "File:ImageWidth": 512,
        "File:ImageHeight": 512,
        "EXIF:Make": "NASA",
        "EXIF:Model": "Hasselblad 500EL",
        "EXIF:Orientation": "Horizontal (normal)",
        "EXIF:DateTimeOriginal": "1998:10:29 14:30:00",
        "EXIF:CreateDate": "0000:00:00 00:00:00",
        "EXIF:FNumber": 5.6,
        "EXIF:ExposureTime": "1/250",
        "EXIF:ISO": 100,
        "EXIF:FocalLength": "80.0 mm",
        "EXIF:GPSLatitudeRef": "North",
        "EXIF:GPSLatitude": "28 deg 31' 26.00\"",
        "EXIF:GPSLongitudeRef": "West",
        "EXIF:GPSLongitude": "80 deg 39' 3.00\"",
        "Composite:GPSLatitude": "28 deg 31' 26.00\" N",
        "Composite:GPSLongitude": "80 deg 39' 3.00\" W",
        "Composite:ImageSize": "512x512",
    },
}


def test_group_prefixed_tags_fill_the_fields(capsys: pytest.CaptureFixture[str]) -> None:
    result = parse_exif_result(_job(), GROUPED, [])
    assert result.make == "NASA"
    assert result.model == "Hasselblad 500EL"
    assert result.date_time_original == "1998:10:29 14:30:00"
    assert result.create_date is None  # EXIF's "no date"
    assert (result.image_width, result.image_height) == (512, 512)
    assert result.orientation == 1
    assert result.iso == 100
    assert result.f_number == 5.6
    assert result.exposure_time == "1/250"
    assert result.focal_length == 80.0
    assert result.gps_latitude == pytest.approx(28 + 31 / 60 + 26 / 3600)
    assert result.gps_longitude == pytest.approx(-(80 + 39 / 60 + 3 / 3600))
    render_exif(result, Output())
    lines = capsys.readouterr().out.splitlines()
    assert "Make          NASA" in lines
    assert "GPS           28.523889, -80.650833 (28°31'26\"N 80°39'3\"W)" in lines
    assert not any(line.startswith("Created") for line in lines)


def test_the_reference_signs_gps_from_the_ref_tags_in_numeric_mode() -> None:
    numeric: JsonObject = {
        "raw_metadata": {
            "EXIF:GPSLatitudeRef": "S",
            "EXIF:GPSLatitude": 33.8568,
            "EXIF:GPSLongitudeRef": "E",
            "EXIF:GPSLongitude": 151.2153,
        }
    }
    result = parse_exif_result(_job(), numeric, [])
    assert result.gps_latitude == pytest.approx(-33.8568)
    assert result.gps_longitude == pytest.approx(151.2153)


def test_a_null_date_given_as_a_field_is_absent(capsys: pytest.CaptureFixture[str]) -> None:
    video: JsonObject = {"create_date": "0000:00:00 00:00:00", "raw_metadata": {"Duration": 3.0}}
    result = parse_exif_result(_job(), video, [])
    assert result.create_date is None
    render_exif(result, Output())
    assert capsys.readouterr().out == "no EXIF metadata (1 other tags: --raw shows them)\n"


def test_raw_hides_the_servers_file_tags_unless_asked(capsys: pytest.CaptureFixture[str]) -> None:
    result = parse_exif_result(_job(), GROUPED, [])
    render_exif(result, Output(), raw=True)
    shown = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert "EXIF:Make" in shown
    assert "Composite:ImageSize" in shown
    assert not [tag for tag in shown if tag.startswith(("File:", "System:", "ExifTool:"))]
    render_exif(result, Output(), raw=True, file_tags=True)
    assert "File:Directory" in capsys.readouterr().out
    plain: JsonObject = {"raw_metadata": {"FileName": "input.jpg", "Directory": "/x", "Make": "Y"}}
    render_exif(parse_exif_result(_job(), plain, []), Output(), raw=True)
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == ["Make"]


def test_requested_tags_match_group_prefixed_keys(capsys: pytest.CaptureFixture[str]) -> None:
    job = _job({"tags": ["Make", "EXIF:Model", "Flash"]})
    render_exif(parse_exif_result(job, GROUPED, []), Output())
    assert capsys.readouterr().out.splitlines()[1:] == [
        "Make        NASA",
        "EXIF:Model  Hasselblad 500EL",
        "Flash       —",
    ]


def test_a_file_with_only_file_tags_says_no_metadata_like_an_image_without(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text_file: JsonObject = {
        "raw_metadata": {"FileType": "TXT", "MIMEType": "text/plain", "FileSize": 12}
    }
    render_exif(parse_exif_result(_job(), text_file, []), Output())
    assert capsys.readouterr().out == "no EXIF metadata\n"
