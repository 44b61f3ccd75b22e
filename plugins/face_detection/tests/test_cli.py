"""``cl face-detection detect`` end to end against the local server and the shared media."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from cl_client.testing import ClRunner
from PIL import Image
from typer.testing import Result

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
ASTRONAUT = MEDIA / "astronaut.jpg"
CHELSEA = MEDIA / "chelsea.png"


pytestmark = pytest.mark.timeout(60)

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.stderr
    return result


def test_one_face_in_the_astronaut(cl_run: ClRunner) -> None:
    result = cl_run("face-detection", "detect", str(ASTRONAUT))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"{re.escape(str(ASTRONAUT))} \(job {UUID}\)", lines[0])
    assert lines[1] == "1 face (512×512)"
    assert lines[2].split() == ["#", "box", "(px)", "size", "confidence", "crop"]
    row = lines[3].split()
    assert row[0] == "0"
    assert 0.7 <= float(row[-2]) <= 1.0  # confidence above the default threshold
    assert row[-1] == "faces/face_0.png"  # not saved: the crop's place on the server
    assert len(lines) == 4
    assert result.stderr == ""


def test_no_face_in_the_cat(cl_run: ClRunner) -> None:
    result = cl_run("face-detection", "detect", str(CHELSEA))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"{re.escape(str(CHELSEA))} \(job {UUID}\)", lines[0])
    assert lines[1:] == ["0 faces (451×300)", "faces: none found"]


def test_output_saves_the_json_and_every_crop(cl_run: ClRunner, tmp_path: Path) -> None:
    out = tmp_path / "faces-out"
    document = json.loads(
        _ok(cl_run("face-detection", "detect", str(ASTRONAUT), "-o", str(out), "--json")).stdout
    )
    assert document["status"] == "completed"
    assert document["input"] == str(ASTRONAUT)
    # A multi-file result goes to a folder named after the input, inside the output folder.
    face_json = out / "astronaut.jpg" / "face_detection.json"
    crop = out / "astronaut.jpg" / "faces" / "face_0.png"
    assert document["downloaded"] == [str(face_json), str(crop)]
    saved = json.loads(face_json.read_text())
    assert saved["num_faces"] == 1
    assert saved["faces"][0]["file_path"] == "faces/face_0.png"
    with Image.open(crop) as image:
        assert image.format == "PNG"
        assert image.size == (112, 112)
    parsed = document["result"]
    assert parsed["num_faces"] == 1
    assert parsed["faces"][0]["crop_path"] == str(crop)
    box = parsed["faces"][0]["bbox"]
    assert 0.0 <= box["x1"] < box["x2"] <= 1.0
    assert 0.0 <= box["y1"] < box["y2"] <= 1.0


def test_human_output_names_the_saved_crop(cl_run: ClRunner, tmp_path: Path) -> None:
    result = cl_run("face-detection", "detect", str(ASTRONAUT), "--output", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    folder = tmp_path / "astronaut.jpg"
    lines = result.stdout.splitlines()
    assert lines[3].split()[-1] == str(folder / "faces" / "face_0.png")
    assert lines[-1] == f"saved: {folder / 'face_detection.json'}"
    assert (folder / "faces" / "face_0.png").is_file()


def test_several_files_give_an_array_and_a_folder_per_input(
    cl_run: ClRunner, tmp_path: Path
) -> None:
    out = tmp_path / "many"
    documents = json.loads(
        _ok(
            cl_run(
                "face-detection", "detect", str(ASTRONAUT), str(CHELSEA), "-o", str(out), "--json"
            )
        ).stdout
    )
    assert {d["input"]: d["result"]["num_faces"] for d in documents} == {
        str(ASTRONAUT): 1,
        str(CHELSEA): 0,
    }
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.jpg", "chelsea.png"]
    assert (out / "astronaut.jpg" / "faces" / "face_0.png").is_file()
    assert (out / "chelsea.png" / "face_detection.json").is_file()
    assert not (out / "chelsea.png" / "faces").exists()


def test_a_folder_mirrors_its_tree_one_folder_per_image(cl_run: ClRunner, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    (photos / "people").mkdir(parents=True)
    shutil.copy(ASTRONAUT, photos / "people" / "astronaut.jpg")
    shutil.copy(CHELSEA, photos / "chelsea.png")
    (photos / "notes.txt").write_text("not an image\n")
    out = tmp_path / "det"
    result = _ok(cl_run("face-detection", "detect", str(photos), "-o", str(out)))
    saved = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert saved == [
        "chelsea.png/face_detection.json",
        "people/astronaut.jpg/face_detection.json",
        "people/astronaut.jpg/faces/face_0.png",
    ]
    assert re.fullmatch(
        r"2 completed, 0 failed, 0 skipped \(already done\) in \d+\.\d s \(\d+\.\d/s\); "
        r"left out: 1 not taken by this task\n",
        result.stderr,
    )


def test_thresholds_are_sent_to_the_server(cl_run: ClRunner) -> None:
    document = json.loads(
        _ok(
            cl_run(
                "face-detection",
                "detect",
                str(ASTRONAUT),
                "--confidence-threshold",
                "0.25",
                "--nms-threshold",
                "0.5",
                "--priority",
                "7",
                "--json",
            )
        ).stdout
    )
    assert document["params"]["confidence_threshold"] == 0.25
    assert document["params"]["nms_threshold"] == 0.5
    assert document["priority"] == 7


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (
            "--confidence-threshold",
            "1.5",
            "--confidence-threshold (confidence_threshold) must be between 0.0 and 1.0",
        ),
        ("--nms-threshold", "-0.2", "--nms-threshold (nms_threshold) must be between 0.0 and 1.0"),
    ],
)
def test_a_threshold_out_of_range_is_a_one_line_usage_error(
    cl_run: ClRunner, option: str, value: str, message: str
) -> None:
    result = cl_run("face-detection", "detect", str(ASTRONAUT), option, value)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: {message}, got {float(value)}"]
    assert result.stdout == ""


def test_a_missing_file_is_a_one_line_usage_error(cl_run: ClRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jpg"
    result = cl_run("face-detection", "detect", str(missing))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: file not found: {missing}"]


def test_job_files_and_download_all_fetch_the_json_and_every_crop(
    cl_run: ClRunner, tmp_path: Path
) -> None:
    job_id = json.loads(_ok(cl_run("face-detection", "detect", str(ASTRONAUT), "--json")).stdout)[
        "job_id"
    ]
    files = _ok(cl_run("job", "files", job_id)).stdout.splitlines()
    assert files == ["output/face_detection.json", "faces/face_0.png"]
    saved = _ok(cl_run("job", "download", job_id, "--all", str(tmp_path / "all"))).stdout
    assert saved.splitlines() == [str(tmp_path / "all" / f) for f in files]
    with Image.open(tmp_path / "all" / "faces" / "face_0.png") as crop:
        assert crop.size == (112, 112)
    report = json.loads((tmp_path / "all" / "output" / "face_detection.json").read_text())
    assert len(report["faces"]) == 1
