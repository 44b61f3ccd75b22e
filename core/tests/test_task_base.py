"""The TaskClient base and validators, used the way plugins use them, against the local server."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest
from cl_client.client import Client
from cl_client.config import ConfigStore, resolve_settings
from cl_client.errors import InvalidInputError, JobFailedError, MalformedResponseError
from cl_client.models import Health, Job, JobProgress
from cl_client.tasks import (
    TaskClient,
    TaskResult,
    check_choice,
    check_float_range,
    check_input_file,
    check_int_range,
    load_json_file,
)
from corelib_support import MEDIA

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer

pytestmark = [pytest.mark.usefixtures("cl_isolated"), pytest.mark.timeout(60)]

T = TypeVar("T")


def run(coro: Coroutine[object, object, T]) -> T:
    return asyncio.run(coro)


@dataclass(kw_only=True)
class HashResult(TaskResult):
    hash_value: str


class HashClient(TaskClient[HashResult]):
    task_type = "hash"

    async def collect(self, job: Job, dest: Path | None = None) -> HashResult:
        path = job.output_path
        assert path is not None
        data, saved = await self.fetch_json(job, path, dest)
        downloaded = [] if saved is None else [saved]
        return HashResult(job=job, downloaded=downloaded, hash_value=str(data["hash_value"]))


class ConversionClient(TaskClient[TaskResult]):
    task_type = "image_conversion"

    async def collect(self, job: Job, dest: Path | None = None) -> TaskResult:
        return TaskResult(job=job)


def client_for(server: LocalServer, tmp_path: Path) -> Client:
    return Client(resolve_settings(env=server.client_env(), store=ConfigStore(tmp_path / "c.toml")))


def test_a_task_client_submits_waits_and_collects(cl_server: LocalServer, tmp_path: Path) -> None:
    image = MEDIA / "chelsea.png"
    progress: list[JobProgress] = []

    async def scenario() -> HashResult:
        async with client_for(cl_server, tmp_path) as client:
            hashes = HashClient(client.compute)
            created = await hashes.submit_form(image, {"algorithm": "md5"}, priority=3)
            return await hashes.wait_result(
                created.job_id, timeout=30, on_progress=progress.append, dest=tmp_path
            )

    result = run(scenario())
    assert result.hash_value == hashlib.md5(image.read_bytes()).hexdigest()  # noqa: S324
    assert result.job.priority == 3 and progress[-1].status == "completed"
    assert result.downloaded == [tmp_path / "hash.json"]
    out = result.to_json()
    assert out["status"] == "completed" and out["downloaded"] == [str(tmp_path / "hash.json")]
    assert json.loads((tmp_path / "hash.json").read_text())["algorithm"] == "md5"
    assert "downloaded" not in TaskResult(job=result.job).to_json()


def test_without_a_destination_the_result_is_read_in_memory(
    cl_server: LocalServer, tmp_path: Path
) -> None:
    image = MEDIA / "coffee.jpg"

    async def scenario() -> HashResult:
        async with client_for(cl_server, tmp_path) as client:
            hashes = HashClient(client.compute)
            created = await hashes.submit_form(image, {"algorithm": "md5"})
            return await hashes.wait_result(created.job_id, timeout=30)

    result = run(scenario())
    assert result.hash_value == hashlib.md5(image.read_bytes()).hexdigest()  # noqa: S324
    assert result.downloaded == []
    assert not (tmp_path / "hash.json").exists()
    assert result.input_name == "coffee.jpg"
    assert TaskResult(job=Job(job_id="j9", task_type="hash", status="queued")).input_name == "j9"


def test_a_saved_result_file_must_hold_a_json_object(tmp_path: Path) -> None:
    good, listed, broken = tmp_path / "good.json", tmp_path / "list.json", tmp_path / "bad.json"
    good.write_text('{"hash_value": "ab"}')
    listed.write_text("[1, 2]")
    broken.write_text("{")
    assert load_json_file(good) == {"hash_value": "ab"}
    with pytest.raises(MalformedResponseError, match=r"list\.json does not hold a JSON object"):
        load_json_file(listed)
    with pytest.raises(MalformedResponseError, match=r"bad\.json is not valid JSON \("):
        load_json_file(broken)


def test_a_failed_job_raises_job_failed(cl_server: LocalServer, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")

    async def scenario() -> None:
        async with client_for(cl_server, tmp_path) as client:
            conversions = ConversionClient(client.compute)
            created = await conversions.submit_form(text, {"format": "png"})
            await conversions.wait_result(created.job_id, timeout=30)

    with pytest.raises(JobFailedError) as info:
        run(scenario())
    assert info.value.exit_code == 1 and info.value.error_message
    assert str(info.value).startswith(f"job {info.value.job_id} (image_conversion) failed: ")


def test_inputs_are_checked_before_anything_is_sent(cl_server: LocalServer, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with client_for(cl_server, tmp_path) as client:
            hashes = HashClient(client.compute)
            with pytest.raises(InvalidInputError, match="file not found"):
                await hashes.submit_form(tmp_path / "missing.jpg", {})
            with pytest.raises(InvalidInputError, match="not a regular file"):
                await hashes.submit_form(tmp_path, {})
            with pytest.raises(InvalidInputError, match="priority must be between 0 and 10"):
                await hashes.submit_form(MEDIA / "coffee.jpg", {}, priority=11)

    run(scenario())


def test_validators() -> None:
    assert check_input_file(str(MEDIA / "coffee.jpg")) == MEDIA / "coffee.jpg"
    assert check_int_range("width", 5, 1, None) == 5
    with pytest.raises(InvalidInputError, match="width must be at least 1, got 0"):
        check_int_range("width", 0, 1, None)
    with pytest.raises(InvalidInputError, match="n must be at most 3, got 4"):
        check_int_range("n", 4, None, 3)
    assert check_float_range("t", 0.5, 0, 1) == 0.5
    with pytest.raises(InvalidInputError, match="t must be between 0 and 1"):
        check_float_range("t", math.nan, 0, 1)
    with pytest.raises(InvalidInputError):
        check_float_range("t", 1.5, 0, 1)
    assert check_choice("format", "png", ["png", "jpg"]) == "png"
    with pytest.raises(InvalidInputError, match="format must be one of png, jpg; got 'gif'"):
        check_choice("format", "gif", ["png", "jpg"])


def test_model_helpers() -> None:
    assert Health().guest_mode is None
    assert Health(guestMode="off").guest_mode is False
    job = Job(job_id="j", task_type="hash", status="error", params={"output_path": 3})
    assert job.failed and job.is_terminal and job.output_path is None
    assert job.to_dict()["job_id"] == "j"
