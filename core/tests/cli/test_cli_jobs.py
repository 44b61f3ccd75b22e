"""``cl job ...``, ``cl download``, ``cl capabilities`` and the launcher profile ``local``."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from .conftest import JOB_FIELDS, MEDIA, RunCl, RunSub

if TYPE_CHECKING:
    from cl_client.models import FormValue
    from cl_local_server.server import LocalServer

pytestmark = pytest.mark.timeout(90)


def submit(task_type: str, file: Path, form: dict[str, FormValue] | None = None) -> str:
    """Submit a job with the library (no task plugin needed) and return its id."""

    async def go() -> str:
        from cl_client.client import Client

        async with Client() as client:
            return (await client.compute.submit(task_type, file, form)).job_id

    return asyncio.run(go())


def _hash_job(cl: RunCl) -> str:
    job_id = submit("hash", MEDIA / "chelsea.png")
    waited = cl("job", "wait", job_id, "--timeout", "30")
    assert waited.exit_code == 0, waited.output
    return job_id


def test_job_get_wait_download_delete(
    cl: RunCl, server_env: dict[str, str], tmp_path: Path
) -> None:
    job_id = _hash_job(cl)

    got = cl("job", "get", job_id, "--json")
    assert got.exit_code == 0, got.output
    doc = json.loads(got.stdout)
    assert set(doc) == JOB_FIELDS
    assert doc["job_id"] == job_id
    assert doc["status"] == "completed"
    assert doc["params"]["output_path"] == "output/hash.json"

    human = cl("job", "get", job_id)
    assert "status:" in human.stdout and "completed" in human.stdout

    waited = cl("job", "wait", job_id, "--json", "--timeout", "10")
    assert waited.exit_code == 0, waited.output
    assert json.loads(waited.stdout) == doc
    assert "waiting for 1 job(s)" in waited.stderr

    dest = tmp_path / "dl"
    dest.mkdir()
    down = cl("job", "download", job_id, "output/hash.json", str(dest))
    assert down.exit_code == 0, down.output
    assert down.stdout.strip() == str(dest / "hash.json")
    assert "hash_value" in json.loads((dest / "hash.json").read_text())

    target = tmp_path / "named.json"
    alias = cl("download", job_id, "output/hash.json", str(target), "--json")
    assert alias.exit_code == 0, alias.output
    assert json.loads(alias.stdout) == {
        "job_id": job_id,
        "file_path": "output/hash.json",
        "downloaded": [str(target)],
    }
    assert target.read_bytes() == (dest / "hash.json").read_bytes()

    new_folder = tmp_path / "new" / "folder"
    slashed = cl("download", job_id, "output/hash.json", f"{new_folder}/")
    assert slashed.exit_code == 0, slashed.output
    assert (new_folder / "hash.json").read_bytes() == target.read_bytes()

    missing_file = cl("download", job_id, "output/nothing.bin", str(tmp_path))
    assert missing_file.exit_code == 4
    escaping = cl("download", job_id, "../../etc/passwd", str(tmp_path))
    assert escaping.exit_code == 2

    deleted = cl("job", "delete", job_id)
    assert deleted.exit_code == 0
    assert f"deleted job {job_id}" in deleted.stderr
    gone = cl("job", "get", job_id)
    assert gone.exit_code == 4
    [line] = gone.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert job_id in line


def test_job_wait_on_a_failed_job_exits_1(
    cl: RunCl, server_env: dict[str, str], tmp_path: Path
) -> None:
    fake = tmp_path / "fake.png"
    fake.write_text("this is not an image\n")
    job_id = submit("image_conversion", fake, {"format": "jpg"})
    waited = cl("job", "wait", job_id, "--json")
    assert waited.exit_code == 1, waited.output
    doc = json.loads(waited.stdout)
    assert doc["status"] == "error"
    assert doc["error_message"]
    assert waited.stderr.splitlines()[-1].startswith(f"error: job {job_id} (image_conversion)")
    human = cl("job", "wait", job_id)
    assert human.exit_code == 1
    assert "failed: " in human.stderr
    assert "error:" in human.stdout  # the record shows the server's error message


def test_capabilities(cl: RunCl, server: LocalServer, server_env: dict[str, str]) -> None:
    result = cl("capabilities", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["num_workers"] == 2
    assert "hash" in doc["capabilities"]
    assert "clip_embedding" not in doc["capabilities"]  # no executor on this server
    workers = doc["workers"]
    assert set(workers) == set(server.worker_ids)
    for worker in workers.values():
        assert "hash" in worker["capabilities"]
        assert worker["idle_count"] in (0, 1)
    human = cl("capabilities")
    assert human.exit_code == 0
    assert "2 worker(s)" in human.stdout
    assert any(line.split()[:1] == ["hash"] for line in human.stdout.splitlines())


def test_capabilities_without_a_broker_still_answers(cl: RunCl, server_env: dict[str, str]) -> None:
    result = cl("--mqtt-url", "mqtt://127.0.0.1:9", "capabilities", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["workers"] is None
    assert "hash" in doc["capabilities"]


def test_local_launcher_profile_end_to_end(cl_sub: RunSub, echo: ModuleType) -> None:
    image = MEDIA / "astronaut.jpg"
    proc = cl_sub("-p", "local", "echo-test", "md5", str(image), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "completed"
    assert doc["task_type"] == "hash"
    human = cl_sub("-p", "local", "echo-test", "md5", str(image))
    md5 = hashlib.md5(image.read_bytes()).hexdigest()  # noqa: S324 - comparing, not securing
    assert human.stdout.splitlines() == [f"{image} (job {doc['job_id']})", f"echo: {md5}"]
    assert "local server at http://127.0.0.1:" in proc.stderr  # status on stderr, not stdout
    # the embedded server keeps its jobs between commands
    again = cl_sub("-p", "local", "job", "get", doc["job_id"], "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["job_id"] == doc["job_id"]
    who = cl_sub("-p", "local", "whoami")
    assert who.returncode == 0
    assert "no authentication" in who.stdout
