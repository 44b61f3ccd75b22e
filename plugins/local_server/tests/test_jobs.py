"""Job submission, the job record, deletion, downloads and scheduling (PROTOCOL §4.3–§4.6, §5)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import numpy as np
import pytest
from cl_local_server.executors import TaskContext

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ServerFactory
    from conftest import Api

pytestmark = pytest.mark.timeout(60)

JOB_KEYS = {
    "job_id",
    "task_type",
    "status",
    "progress",
    "params",
    "task_output",
    "error_message",
    "priority",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
}


def detail(r: httpx.Response) -> list[dict[str, object]]:
    assert r.status_code == 422, r.text
    return r.json()["detail"]


def test_job_record(api: Api, media_path: Callable[[str], Path]) -> None:
    job_id = api.submit_ok(
        "hash", media_path("astronaut.jpg"), {"algorithm": "md5", "priority": "7"}
    )
    uuid.UUID(job_id, version=4)
    job = api.wait(job_id)
    assert set(job) == JOB_KEYS
    assert job["status"] == "completed" and job["progress"] == 100
    assert job["params"] == {
        "input_path": "input/astronaut.jpg",
        "output_path": "output/hash.json",
        "algorithm": "md5",
    }
    assert job["task_output"] == {"media_type": "image"}
    assert job["error_message"] is None and job["priority"] == 7
    assert job["updated_at"] == job["created_at"]  # B13
    assert job["created_at"] <= job["started_at"] <= job["completed_at"]


def test_params_and_defaults_per_task(
    api: Api,
    make_api: Callable[..., Api],
    cl_server_factory: ServerFactory,
    media_path: Callable[[str], Path],
) -> None:
    # no workers: the jobs stay queued and only the stored params matter
    idle = make_api(cl_server_factory.start(workers=0))
    img = media_path("chelsea.png")
    expected = {
        "clip_embedding": {"output_path": "output/clip_embedding.npy", "normalize": True},
        "dino_embedding": {"output_path": "output/dino_embedding.npy", "normalize": True},
        "face_embedding": {"output_path": "output/face_embedding.npy", "normalize": True},
        "exif": {"output_path": "output/exif_metadata.json", "tags": []},
        "face_detection": {
            "output_path": "output/face_detection.json",
            "confidence_threshold": 0.7,
            "nms_threshold": 0.4,
        },
        "hash": {"output_path": "output/hash.json", "algorithm": "sha512"},
        "hls_streaming": {
            "output_path": "output",
            "variants": [
                {"resolution": 720, "bitrate": 3500},
                {"resolution": 480, "bitrate": 1500},
            ],
            "include_original": False,
        },
        "media_thumbnail": {
            "output_path": "output/thumbnail.jpg",
            "width": None,
            "height": None,
            "maintain_aspect_ratio": True,
        },
    }
    for task, own in expected.items():
        job = idle.job(idle.submit_ok(task, img))
        assert job["status"] == "queued" and job["progress"] == 0 and job["priority"] == 5
        assert (
            job["task_output"] is None and job["started_at"] is None and job["completed_at"] is None
        )
        assert job["params"] == {"input_path": "input/chelsea.png", **own}, task
    job = idle.job(idle.submit_ok("image_conversion", img, {"format": "jpeg"}))
    assert job["params"] == {
        "input_path": "input/chelsea.png",
        "output_path": "output/converted_chelsea.jpg",
        "format": "jpeg",
        "quality": 85,
    }
    job = idle.job(idle.submit_ok("exif", img, {"tags": "Make, Model,,"}))
    assert job["params"]["tags"] == ["Make", "Model"]
    job = idle.job(idle.submit_ok("clip_embedding", img, {"normalize": "off"}))
    assert job["params"]["normalize"] is False
    job = idle.job(
        idle.submit_ok("media_thumbnail", img, {"width": "64", "maintain_aspect_ratio": "0"})
    )
    assert job["params"]["width"] == 64 and job["params"]["maintain_aspect_ratio"] is False
    job = idle.job(
        idle.submit_ok(
            "hls_streaming",
            img,
            {"variants": '[{"resolution":null,"bitrate":null}]', "include_original": "yes"},
        )
    )
    assert (
        job["params"]["variants"] == [{"resolution": None, "bitrate": None}]
        and job["params"]["include_original"] is True
    )
    # the upload is stored as sent
    stored = (
        idle.server.info.data_dir / "compute" / "jobs" / job["job_id"] / "input" / "chelsea.png"
    )
    assert stored.read_bytes() == img.read_bytes()
    # empty strings are "not sent": defaults apply
    job = idle.job(
        idle.submit_ok("face_detection", img, {"confidence_threshold": "", "priority": ""})
    )
    assert job["params"]["confidence_threshold"] == 0.7 and job["priority"] == 5


def test_validation_errors(api: Api, media_path: Callable[[str], Path]) -> None:
    img = media_path("chelsea.png")
    d = detail(api.submit("hash", None, {"algorithm": "md5"}))
    assert d == [
        {"type": "missing", "loc": ["body", "file"], "msg": "Field required", "input": None}
    ]
    d = detail(api.submit("hash", img, {"priority": "11"}))
    assert d[0]["type"] == "less_than_equal" and d[0]["loc"] == ["body", "priority"]
    assert d[0]["msg"] == "Input should be less than or equal to 10" and d[0]["input"] == "11"
    d = detail(api.submit("hash", img, {"priority": "-1"}))
    assert d[0]["type"] == "greater_than_equal"
    d = detail(api.submit("hash", img, {"priority": "high"}))
    assert d[0]["type"] == "int_parsing"
    d = detail(api.submit("hash", img, {"algorithm": "sha1"}))
    assert d[0]["type"] == "literal_error" and d[0]["loc"] == ["body", "algorithm"]
    d = detail(api.submit("image_conversion", img))
    assert d == [
        {"type": "missing", "loc": ["body", "format"], "msg": "Field required", "input": None}
    ]
    d = detail(api.submit("image_conversion", img, {"format": "svg", "quality": "0"}))
    assert [e["loc"][1] for e in d] == ["format", "quality"]
    assert d[0]["msg"] == "Input should be 'png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp' or 'tiff'"
    d = detail(api.submit("image_conversion", img, {"format": "png", "quality": "101"}))
    assert d[0]["loc"] == ["body", "quality"]
    d = detail(api.submit("media_thumbnail", img, {"width": "0", "height": "-3"}))
    assert [(e["loc"][1], e["type"]) for e in d] == [
        ("width", "greater_than"),
        ("height", "greater_than"),
    ]
    d = detail(
        api.submit("face_detection", img, {"confidence_threshold": "1.5", "nms_threshold": "abc"})
    )
    assert [(e["loc"][1], e["type"]) for e in d] == [
        ("confidence_threshold", "less_than_equal"),
        ("nms_threshold", "float_parsing"),
    ]
    d = detail(api.submit("clip_embedding", img, {"normalize": "maybe"}))
    assert d[0]["type"] == "bool_parsing"
    for bad in (
        "not json",
        "{}",
        "[]",
        '[{"resolution": -1}]',
        '[{"bitrate": 50}]',
        '[{"resolution": "720p"}]',
        '["x"]',
    ):
        d = detail(api.submit("hls_streaming", img, {"variants": bad}))
        assert d[0]["loc"] == ["body", "variants"], bad
    # several errors at once, file first
    d = detail(api.submit("image_conversion", None, {"priority": "99"}))
    assert [e["loc"][1] for e in d] == ["file", "format", "priority"]
    # the file part must be a file with a plain name
    d = detail(api.compute.post("/jobs/hash", data={"file": "just text"}))
    assert d[0]["loc"] == ["body", "file"]
    for name in ("../evil.jpg", "a/b.jpg", "..", "a\\b.jpg", "..\\..\\x", ""):
        r = api.compute.post("/jobs/hash", files={"file": (name, b"data")})
        assert r.status_code == 422, name
        assert r.json()["detail"][0]["loc"] == ["body", "file"]
    # python-multipart itself reduces a Windows drive path to its base name
    r = api.compute.post("/jobs/hash", files={"file": ("C:\\x\\y.jpg", b"data")})
    assert api.job(r.json()["job_id"])["params"]["input_path"] == "input/y.jpg"
    # unknown task
    r = api.submit("teleport", img)
    assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"}


def test_get_delete_job(api: Api, media_path: Callable[[str], Path]) -> None:
    job_id = api.submit_ok("hash", media_path("coffee.jpg"))
    api.wait(job_id)
    job_dir = api.server.info.data_dir / "compute" / "jobs" / job_id
    assert job_dir.is_dir()
    r = api.compute.delete(f"/jobs/{job_id}")
    assert r.status_code == 204 and r.content == b""
    assert not job_dir.exists()
    r = api.compute.get(f"/jobs/{job_id}")
    assert r.status_code == 404 and r.json() == {"detail": f"Job {job_id} not found"}
    assert api.compute.delete(f"/jobs/{job_id}").status_code == 404


def test_downloads_and_traversal(api: Api, media_path: Callable[[str], Path]) -> None:
    job_id = api.submit_ok("hash", media_path("astronaut.jpg"))
    api.wait(job_id)
    r = api.compute.get(f"/jobs/{job_id}/files/input/astronaut.jpg")
    assert r.status_code == 200 and r.content == media_path("astronaut.jpg").read_bytes()
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == 'attachment; filename="astronaut.jpg"'
    assert int(r.headers["content-length"]) == len(r.content)
    r = api.compute.get(f"/jobs/{job_id}/files/output")
    assert r.status_code == 400 and r.json() == {"detail": "Path is not a file: output"}
    r = api.compute.get(f"/jobs/{job_id}/files/output/nope.json")
    assert r.status_code == 404 and r.json() == {"detail": "File not found: output/nope.json"}
    r = api.compute.get(f"/jobs/{job_id}/files/")
    assert r.status_code == 400 and r.json() == {"detail": "Invalid file path: "}
    r = api.compute.get(f"/jobs/{job_id}/files/output/a%00b")
    assert r.status_code == 400 and r.json()["detail"].startswith("Invalid file path:")
    r = api.compute.get(f"/jobs/{uuid.uuid4()}/files/output/hash.json")
    assert r.status_code == 404 and r.json()["detail"].endswith("not found")

    # a secret next to the job directories that traversal would reach
    jobs_dir = api.server.info.data_dir / "compute" / "jobs"
    (jobs_dir.parent / "secret.txt").write_text("secret")
    base = f"{api.server.info.compute_url}/jobs/{job_id}/files/"
    # raw paths (httpx would normalise "../" away, so build them by hand)
    for raw in (
        "..%2F..%2Fsecret.txt",
        "%2e%2e/%2e%2e/secret.txt",
        "%2e%2e%2f%2e%2e%2fsecret.txt",
        "input/..%2F..%2F..%2Fsecret.txt",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
    ):
        r = httpx.get(httpx.URL(base).copy_with(raw_path=(httpx.URL(base).raw_path + raw.encode())))
        assert r.status_code == 403, (raw, r.status_code, r.text)
        assert r.json() == {"detail": "Access denied: path traversal detected"}
    # a symlink that points outside the job directory is refused too
    (jobs_dir / job_id / "output" / "link").symlink_to(jobs_dir.parent / "secret.txt")
    assert api.compute.get(f"/jobs/{job_id}/files/output/link").status_code == 403
    # a job whose directory vanished
    import shutil

    shutil.rmtree(jobs_dir / job_id)
    r = api.compute.get(f"/jobs/{job_id}/files/output/hash.json")
    assert r.status_code == 404 and r.json() == {
        "detail": f"Job directory not found for job {job_id}"
    }


def test_bad_media_becomes_job_error(api: Api, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("just some words\n")
    for task, data in (
        ("image_conversion", {"format": "png"}),
        ("media_thumbnail", {}),
        ("face_detection", {}),
        ("hls_streaming", {}),
    ):
        job = api.wait(api.submit_ok(task, text, data))
        assert job["status"] == "error", task
        assert (
            job["error_message"] and job["completed_at"] is not None and job["task_output"] is None
        )
    job = api.wait(api.submit_ok("media_thumbnail", text))
    assert job["error_message"] == "Unsupported media type: text"
    # hash still works on anything (sha512 of the bytes)
    job = api.run("hash", text)
    assert job["task_output"] == {"media_type": "text"}


def test_embedding_tasks_wait_without_executor(api: Api, media_path: Callable[[str], Path]) -> None:
    caps = api.compute.get("/capabilities").json()
    assert caps["num_workers"] == 2
    assert set(caps["capabilities"]) == {
        "exif",
        "face_detection",
        "face_embedding",
        "hash",
        "hls_streaming",
        "image_conversion",
        "media_thumbnail",
    }
    job_id = api.submit_ok("clip_embedding", media_path("astronaut.jpg"))
    # other jobs run meanwhile; the embedding job stays queued
    api.run("hash", media_path("coffee.jpg"))
    assert api.job(job_id)["status"] == "queued"


def test_registered_executor(
    api: Api, media_path: Callable[[str], Path], wait_until: Callable[..., None]
) -> None:
    def fake_clip(ctx: TaskContext) -> dict[str, object]:
        ctx.progress(50)
        vector = np.arange(512, dtype=np.float32) + 1
        if ctx.params.get("normalize"):
            vector /= np.linalg.norm(vector)
        ctx.output_path.parent.mkdir(parents=True, exist_ok=True)
        np.save(ctx.output_path, vector)
        return {"embedding_dim": 512, "normalized": bool(ctx.params.get("normalize"))}

    queued = api.submit_ok("clip_embedding", media_path("astronaut.jpg"))
    api.server.registry.register("clip_embedding", fake_clip)
    wait_until(
        lambda: "clip_embedding" in api.compute.get("/capabilities").json()["capabilities"],
        what="capability",
    )
    job = api.wait(queued)  # the waiting job is picked up once an executor exists
    assert job["status"] == "completed"
    assert job["task_output"] == {"embedding_dim": 512, "normalized": True}
    data = api.download(queued, job["params"]["output_path"])
    path = Path(api.server.info.data_dir) / "out.npy"
    path.write_bytes(data)
    vector = np.load(path)
    assert vector.shape == (512,) and vector.dtype == np.float32
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    api.server.registry.unregister("clip_embedding")
    wait_until(
        lambda: "clip_embedding" not in api.compute.get("/capabilities").json()["capabilities"],
        what="removal",
    )


def test_custom_task_type(
    cl_server_factory: ServerFactory,
    make_api: Callable[..., Api],
    media_path: Callable[[str], Path],
) -> None:
    def count_bytes(ctx: TaskContext) -> dict[str, object]:
        return {"size": ctx.input_path.stat().st_size, "label": ctx.params.get("label")}

    server = cl_server_factory.start(executors={"byte_count": count_bytes, "hls_streaming": None})
    api = make_api(server)
    caps = api.compute.get("/capabilities").json()["capabilities"]
    assert "byte_count" in caps and "hls_streaming" not in caps
    job = api.run("byte_count", media_path("coffee.jpg"), {"label": "x"})
    assert job["task_output"] == {"size": media_path("coffee.jpg").stat().st_size, "label": "x"}


def test_failing_executor_message(
    cl_server_factory: ServerFactory,
    make_api: Callable[..., Api],
    media_path: Callable[[str], Path],
) -> None:
    def boom(ctx: TaskContext) -> dict[str, object]:
        ctx.progress(42)
        raise RuntimeError("model exploded")

    api = make_api(cl_server_factory.start(executors={"dino_embedding": boom}))
    job = api.wait(api.submit_ok("dino_embedding", media_path("coffee.jpg")))
    assert job["status"] == "error" and job["error_message"] == "model exploded"
    assert job["progress"] == 42 and job["task_output"] is None and job["completed_at"]


def test_concurrent_jobs_and_fifo(
    cl_server_factory: ServerFactory,
    make_api: Callable[..., Api],
    media_path: Callable[[str], Path],
    wait_until: Callable[..., None],
) -> None:
    gate = threading.Event()
    running: list[str] = []
    lock = threading.Lock()
    peak = [0]

    def slow(ctx: TaskContext) -> dict[str, object]:
        with lock:
            running.append(ctx.job_id)
            peak[0] = max(peak[0], sum(1 for _ in running))
        gate.wait(20)
        with lock:
            running.remove(ctx.job_id)
        return {}

    server = cl_server_factory.start(executors={"face_embedding": slow}, workers=2)
    api = make_api(server)
    ids = [
        api.submit_ok("face_embedding", media_path("coffee.jpg"), {"priority": str(p)})
        for p in (0, 10, 5, 1)
    ]

    def two_running() -> bool:
        return sum(api.job(i)["status"] == "processing" for i in ids) == 2

    wait_until(two_running, what="two jobs running")
    statuses = [api.job(i)["status"] for i in ids]
    # oldest first, priority ignored (PROTOCOL §4.3)
    assert statuses == ["processing", "processing", "queued", "queued"]
    caps = api.compute.get("/capabilities").json()
    wait_until(
        lambda: api.compute.get("/capabilities").json()["capabilities"]["face_embedding"] == 0,
        what="busy workers",
    )
    assert caps["num_workers"] == 2
    gate.set()
    for job_id in ids:
        assert api.wait(job_id)["status"] == "completed"
    assert peak[0] == 2
    # concurrent submissions from several threads
    results: list[int] = []

    def submit() -> None:
        r = api.submit("hash", media_path("chelsea.png"))
        results.append(r.status_code)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 8


def test_delete_while_processing(
    cl_server_factory: ServerFactory,
    make_api: Callable[..., Api],
    media_path: Callable[[str], Path],
) -> None:
    started = threading.Event()
    release = threading.Event()

    def slow(ctx: TaskContext) -> dict[str, object]:
        started.set()
        release.wait(20)
        ctx.progress(80)
        return {}

    api = make_api(cl_server_factory.start(executors={"face_embedding": slow}))
    job_id = api.submit_ok("face_embedding", media_path("coffee.jpg"))
    assert started.wait(10)
    assert api.compute.delete(f"/jobs/{job_id}").status_code == 204
    release.set()
    # the worker's late updates are dropped; the job stays gone
    api.run("hash", media_path("coffee.jpg"))
    assert api.compute.get(f"/jobs/{job_id}").status_code == 404
