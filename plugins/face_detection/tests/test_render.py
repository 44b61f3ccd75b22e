"""Human rendering of hand-built face detection results."""

from __future__ import annotations

from pathlib import Path

import pytest
from cl_client.cli import Output
from cl_client.models import Job
from cl_plugin_face_detection.client import BoundingBox, DetectedFace, FaceDetectionResult
from cl_plugin_face_detection.render import render_faces


def _job() -> Job:
    return Job(
        job_id="j1",
        task_type="face_detection",
        status="completed",
        params={"input_path": "input/group.jpg", "output_path": "output/face_detection.json"},
    )


def _face(index: int, crop: Path | None = None) -> DetectedFace:
    return DetectedFace(
        index=index,
        bbox=BoundingBox(0.25, 0.1 * (index + 1), 0.5, 0.5),
        confidence=0.9 - index / 10,
        file_path=f"faces/face_{index}.png",
        crop_path=crop,
    )


def test_a_table_of_faces_with_boxes_confidence_and_crops(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = FaceDetectionResult(
        job=_job(), faces=[_face(0), _face(1)], image_width=400, image_height=200
    )
    render_faces(result, Output())
    # The heading (input and job id) is the frame's; the table's title is the count.
    assert capsys.readouterr().out.splitlines() == [
        "2 faces (400×200)",
        "#  box (px)            size    confidence  crop",
        "0  100, 20 – 200, 100  100×80  0.900       faces/face_0.png",
        "1  100, 40 – 200, 100  100×60  0.800       faces/face_1.png",
    ]


def test_saved_crops_and_json_are_shown(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    crop = tmp_path / "faces" / "face_0.png"
    result = FaceDetectionResult(
        job=_job(), faces=[_face(0, crop)], saved_path=tmp_path / "face_detection.json"
    )
    render_faces(result, Output())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "1 face"  # no image size: the box stays normalised
    assert lines[1].split()[:3] == ["#", "box", "(0-1)"]
    assert lines[2].split() == [
        "0", "0.250,", "0.100", "–", "0.500,", "0.500", "0.250×0.400", "0.900", str(crop)
    ]  # fmt: skip
    assert lines[3] == f"saved: {tmp_path / 'face_detection.json'}"
    assert len(lines) == 4


def test_no_faces(capsys: pytest.CaptureFixture[str]) -> None:
    result = FaceDetectionResult(job=_job(), faces=[], image_width=451, image_height=300)
    render_faces(result, Output())
    assert capsys.readouterr().out.splitlines() == [
        "0 faces (451×300)",
        "faces: none found",
    ]


def test_nothing_in_json_mode(capsys: pytest.CaptureFixture[str]) -> None:
    render_faces(FaceDetectionResult(job=_job(), faces=[_face(0)]), Output(json_mode=True))
    assert capsys.readouterr().out == ""
