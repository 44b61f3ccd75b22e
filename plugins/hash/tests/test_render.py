"""Human output of hand-built hash results."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cl_client.cli import Output
from cl_client.models import Job
from cl_plugin_hash.client import HashResult
from cl_plugin_hash.render import render_hash

DIGEST = hashlib.sha512(b"photo").hexdigest()


def _job() -> Job:
    return Job(
        job_id="3f0c6a2e-9a51-4c0e-8d0b-5f1f5b8f6a11",
        task_type="hash",
        status="completed",
        progress=100,
        params={"input_path": "input/photo.jpg", "output_path": "output/hash.json"},
        task_output={"media_type": "image"},
    )


def test_shows_hash_algorithm_media_type_and_time(capsys: pytest.CaptureFixture[str]) -> None:
    result = HashResult(
        job=_job(),
        hash_value=DIGEST,
        algorithm="sha512_image",
        media_type="image",
        process_time=0.0123,
    )
    render_hash(result, Output())
    captured = capsys.readouterr()
    # The heading (input and job id) is the frame's; the renderer prints only the rows.
    assert captured.out.splitlines() == [
        f"hash:       {DIGEST}",
        "algorithm:  sha512_image",
        "media type: image",
        "time:       12.3 ms",
    ]
    assert captured.err == ""


def test_lists_saved_files_and_leaves_out_what_is_unknown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = HashResult(
        job=_job(),
        downloaded=[Path("/tmp/out/hash.json")],
        hash_value="2d9a0a2fbee0fc1b92a77f059ba07eff",
        algorithm="md5",
    )
    render_hash(result, Output())
    assert capsys.readouterr().out.splitlines() == [
        "hash:      2d9a0a2fbee0fc1b92a77f059ba07eff",
        "algorithm: md5",
        "saved:     /tmp/out/hash.json",
    ]


def test_prints_nothing_in_json_mode(capsys: pytest.CaptureFixture[str]) -> None:
    result = HashResult(job=_job(), hash_value=DIGEST, algorithm="sha512_image")
    render_hash(result, Output(json_mode=True))
    assert capsys.readouterr().out == ""


def test_json_carries_the_job_record_and_the_parsed_result() -> None:
    result = HashResult(
        job=_job(),
        downloaded=[Path("/tmp/out/hash.json")],
        hash_value=DIGEST,
        algorithm="sha512_image",
        media_type="image",
        process_time=0.5,
    )
    doc = result.to_json()
    assert doc["job_id"] == "3f0c6a2e-9a51-4c0e-8d0b-5f1f5b8f6a11"
    assert doc["task_output"] == {"media_type": "image"}
    assert doc["downloaded"] == ["/tmp/out/hash.json"]
    assert doc["result"] == {
        "hash_value": DIGEST,
        "algorithm": "sha512_image",
        "media_type": "image",
        "process_time": 0.5,
    }
