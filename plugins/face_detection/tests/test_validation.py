"""Parameter validation and result parsing of the face detection client (no server needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cl_client.errors import InvalidInputError, MalformedResponseError
from cl_client.models import Job, JsonObject
from cl_client.testing import OFFLINE_ENV, ClRunner, heavy_imports, run_with_compute
from cl_plugin_face_detection.client import (
    BoundingBox,
    FaceDetectionClient,
    parse_face_detection,
    safe_relative_parts,
    validate_thresholds,
)

REPO = Path(__file__).resolve().parents[3]
ASTRONAUT = REPO.parent / "shared" / "media" / "astronaut.jpg"


def _job() -> Job:
    return Job(
        job_id="j1",
        task_type="face_detection",
        status="completed",
        params={"input_path": "input/astronaut.jpg", "output_path": "output/face_detection.json"},
    )


@pytest.mark.parametrize(
    ("confidence", "nms", "name"),
    [
        (1.5, 0.4, "confidence_threshold"),
        (-0.1, 0.4, "confidence_threshold"),
        (float("nan"), 0.4, "confidence_threshold"),
        (0.7, 1.01, "nms_threshold"),
        (0.7, -1.0, "nms_threshold"),
    ],
)
def test_thresholds_out_of_range_are_rejected(confidence: float, nms: float, name: str) -> None:
    flag = "--" + name.replace("_", "-")
    pattern = rf"^{flag} \({name}\) must be between 0.0 and 1.0"
    with pytest.raises(InvalidInputError, match=pattern):
        validate_thresholds(confidence, nms)


@pytest.mark.parametrize(("confidence", "nms"), [(0.0, 0.0), (1.0, 1.0), (0.7, 0.4)])
def test_thresholds_at_the_bounds_are_accepted(confidence: float, nms: float) -> None:
    validate_thresholds(confidence, nms)


CURRENT: JsonObject = {
    "faces": [
        {
            "bbox": {"x1": 0.25, "y1": 0.1, "x2": 0.5, "y2": 0.4},
            "confidence": 0.93,
            "landmarks": {"right_eye": [0.3, 0.2], "left_eye": [0.45, 0.2]},
            "file_path": "faces/face_0.png",
        }
    ],
    "num_faces": 1,
    "image_width": 512,
    "image_height": 512,
}


def test_current_shape_is_parsed() -> None:
    result = parse_face_detection(_job(), CURRENT, file_path="output/face_detection.json")
    assert result.num_faces == 1
    assert (result.image_width, result.image_height) == (512, 512)
    face = result.faces[0]
    assert face.bbox == BoundingBox(0.25, 0.1, 0.5, 0.4)
    assert face.bbox.to_pixels(512, 512) == (128, 51, 256, 205)
    assert face.confidence == pytest.approx(0.93)
    assert face.landmarks == {"right_eye": (0.3, 0.2), "left_eye": (0.45, 0.2)}
    assert face.file_path == "faces/face_0.png"
    assert result.input_name == "astronaut.jpg"
    assert result.to_json()["result"] == {
        "num_faces": 1,
        "image_width": 512,
        "image_height": 512,
        "faces": [
            {
                "index": 0,
                "bbox": {"x1": 0.25, "y1": 0.1, "x2": 0.5, "y2": 0.4},
                "confidence": 0.93,
                "landmarks": {"right_eye": [0.3, 0.2], "left_eye": [0.45, 0.2]},
                "file_path": "faces/face_0.png",
                "crop_path": None,
            }
        ],
        "file_path": "output/face_detection.json",
        "saved_path": None,
    }


def test_list_forms_and_older_flat_faces_are_parsed() -> None:
    data: JsonObject = {
        "faces": [
            {
                "bbox": [0.1, 0.2, 0.3, 0.4],
                "confidence": 0.8,
                "landmarks": [0.1, 0.2, 0.3, 0.2, 0.2, 0.3, 0.15, 0.35, 0.25, 0.35],
            },
            {"x1": 0.5, "y1": 0.5, "x2": 0.9, "y2": 0.9, "confidence": 1},
        ]
    }
    result = parse_face_detection(_job(), data, file_path="output/face_detection.json")
    first, second = result.faces
    assert first.bbox == BoundingBox(0.1, 0.2, 0.3, 0.4)
    assert first.landmarks["right_eye"] == (0.1, 0.2)
    assert first.landmarks["mouth_left"] == (0.25, 0.35)
    assert second.bbox == BoundingBox(0.5, 0.5, 0.9, 0.9)
    assert second.landmarks == {}
    assert second.file_path is None
    assert result.image_width is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "has no faces list"),
        ({"faces": [1]}, "is not an object"),
        ({"faces": [{"bbox": {"x1": 0.1}, "confidence": 0.9}]}, "no readable bbox"),
        ({"faces": [{"bbox": [0.1, 0.2, 0.3, 0.4]}]}, "no confidence"),
        (
            {"faces": [{"bbox": [0, 0, 1, 1], "confidence": 1, "file_path": "../../etc/x.png"}]},
            "unsafe result path",
        ),
        (
            {"faces": [{"bbox": [0, 0, 1, 1], "confidence": 1, "file_path": "faces//x.png"}]},
            "unsafe result path 'faces//x.png'",
        ),
        (
            {"faces": [{"bbox": [0, 0, 1, 1], "confidence": 1, "file_path": "faces/"}]},
            "unsafe result path 'faces/'",
        ),
    ],
)
def test_malformed_results_are_reported(data: JsonObject, message: str) -> None:
    with pytest.raises(MalformedResponseError, match=message):
        parse_face_detection(_job(), data, file_path="output/face_detection.json")


@pytest.mark.parametrize(
    "path",
    [
        "../x.png",
        "/etc/passwd",
        "faces/../../x",
        "",
        "faces\\..\\x.png",
        "C:/x.png",
        "faces/",
        "faces//x.png",
        "./faces/x.png",
    ],
)
def test_paths_that_could_escape_the_folder_are_refused(path: str) -> None:
    with pytest.raises(MalformedResponseError, match="unsafe result path"):
        safe_relative_parts(path)


def test_safe_path_parts() -> None:
    assert safe_relative_parts("faces/face_0.png") == ("faces", "face_0.png")


# --- through the client, before anything is sent --------------------------------------------


def _submit(file: Path, **kwargs: object) -> None:
    run_with_compute(
        OFFLINE_ENV,
        lambda compute: FaceDetectionClient(compute).submit(file, **kwargs),  # pyright: ignore[reportArgumentType]
    )


@pytest.mark.usefixtures("cl_offline")
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"confidence_threshold": 2.0},
            r"^--confidence-threshold \(confidence_threshold\) must be between",
        ),
        ({"nms_threshold": -0.5}, r"^--nms-threshold \(nms_threshold\) must be between"),
        ({"priority": 11}, "^priority must be between 0 and 10, got 11$"),
    ],
)
def test_the_client_rejects_bad_parameters(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        _submit(ASTRONAUT, **kwargs)


@pytest.mark.usefixtures("cl_offline")
def test_the_client_rejects_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"^file not found: "):
        _submit(tmp_path / "nope.png")


def test_the_command_rejects_a_bad_threshold_without_contacting_the_server(
    cl_offline: ClRunner,
) -> None:
    result = cl_offline("face-detection", "detect", str(ASTRONAUT), "--confidence-threshold", "7")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: --confidence-threshold (confidence_threshold) must be between 0.0 and 1.0, got 7.0"
    ]


@pytest.mark.usefixtures("cl_offline")
def test_collect_refuses_a_file_as_the_destination(tmp_path: Path) -> None:
    from cl_client import Client

    target = tmp_path / "out.json"
    target.write_text("{}")

    async def run() -> None:
        async with Client() as client:
            await FaceDetectionClient(client.compute).collect(_job(), dest=target)

    with pytest.raises(InvalidInputError, match="is a file; face detection results are saved"):
        asyncio.run(run())


@pytest.mark.parametrize(
    "args", [["face-detection", "--help"], ["face-detection", "detect", "--help"]]
)
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    assert heavy_imports(*args, also=("cl_plugin_face_detection.client",)) == []


def test_the_plugin_registers_its_task_client() -> None:
    from cl_client.plugins import task_client

    assert task_client("face_detection") is FaceDetectionClient
