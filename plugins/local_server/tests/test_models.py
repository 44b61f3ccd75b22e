"""Models you bring (``--model TASK=PATH.onnx``), tested with tiny ONNX graphs built here with
random weights: the vectors the server saves must equal the graph applied to the documented
preprocessing (README, "Models you bring"), computed independently below with Pillow and NumPy."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import numpy.typing as npt
import pytest
from cl_local_server.cli import app
from cl_local_server.executors.onnx_models import model_executor
from PIL import Image
from typer.testing import CliRunner

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ServerFactory
    from conftest import Api

pytestmark = pytest.mark.timeout(60)

Vector = npt.NDArray[np.float32]
#: The graphs also average the top-left CORNER x CORNER pixels, so that the input size and the
#: resampling filter change the result well beyond float32 noise (~1e-5; bilinear instead of
#: bicubic moves it by ~8e-4).
CORNER = 2
#: float32 sums over 224x224 pixels differ between onnxruntime and NumPy by ~1e-5.
ATOL = 1e-4


def _build(path: Path, *, size: int, channels_last: bool, dim: int, tokens: bool) -> list[Vector]:
    """Write a graph: per-channel means of the whole image and of its top-left corner (6 values)
    times a random (6, dim) matrix; with ``tokens`` the output is (1, 2, dim) whose first token is
    that product and whose second is another. Returns the weight matrices."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    first = rng.standard_normal((6, dim)).astype(np.float32)
    second = rng.standard_normal((6, dim)).astype(np.float32)
    shape = [1, size, size, 3] if channels_last else [1, 3, size, size]
    nodes = []
    image = "pixels"
    if channels_last:
        nodes.append(helper.make_node("Transpose", ["pixels"], ["nchw"], perm=[0, 3, 1, 2]))
        image = "nchw"
    inits = [
        numpy_helper.from_array(np.array([0, 0, 0, 0], np.int64), "starts"),
        numpy_helper.from_array(np.array([1, 3, CORNER, CORNER], np.int64), "ends"),
        numpy_helper.from_array(first, "w1"),
        numpy_helper.from_array(second, "w2"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
    ]
    nodes += [
        helper.make_node("GlobalAveragePool", [image], ["whole"]),
        helper.make_node("Slice", [image, "starts", "ends"], ["corner"]),
        helper.make_node("GlobalAveragePool", ["corner"], ["corner_mean"]),
        helper.make_node("Concat", ["whole", "corner_mean"], ["means4"], axis=1),
        helper.make_node("Flatten", ["means4"], ["means"], axis=1),
        helper.make_node("MatMul", ["means", "w1"], ["embedding" if not tokens else "cls"]),
    ]
    out_shape = [1, dim]
    if tokens:
        nodes += [
            helper.make_node("MatMul", ["means", "w2"], ["patch"]),
            helper.make_node("Unsqueeze", ["cls", "axis1"], ["cls3"]),
            helper.make_node("Unsqueeze", ["patch", "axis1"], ["patch3"]),
            helper.make_node("Concat", ["cls3", "patch3"], ["embedding"], axis=1),
        ]
        out_shape = [1, 2, dim]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, out_shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return [first, second]


def _expected(
    image: Path,
    weights: Vector,
    *,
    size: int,
    mean: tuple[float, float, float],
    std: tuple[float, float, float],
    resample: Image.Resampling,
) -> Vector:
    with Image.open(image) as img:
        rgb = img.convert("RGB").resize((size, size), resample)
    pixels = (np.asarray(rgb, np.float32) / 255.0 - np.array(mean, np.float32)) / np.array(
        std, np.float32
    )
    means = np.concatenate([pixels.mean(axis=(0, 1)), pixels[:CORNER, :CORNER].mean(axis=(0, 1))])
    vector = (means @ weights).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _vector(api: Api, job: dict[str, Any]) -> Vector:
    return np.load(io.BytesIO(api.download(job["job_id"], job["params"]["output_path"])))


def test_model_option_serves_clip_embedding_as_documented(
    tmp_path: Path, media_path: Callable[[str], Path]
) -> None:
    model = tmp_path / "tiny-clip.onnx"
    weights = _build(model, size=224, channels_last=False, dim=512, tokens=False)[0]
    cli = [sys.executable, "-c", "from cl_local_server.cli import main; main()"]
    args = ["run", "--data-dir", str(tmp_path / "data"), "--no-auth"]
    ports = ["--port-auth", "0", "--port-compute", "0", "--port-mqtt", "0"]
    proc = subprocess.Popen(
        [*cli, *args, *ports, "--model", f"clip_embedding={model}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        lines: dict[str, str] = {}
        for line in proc.stdout:
            key, _, value = line.partition(":")
            lines[key] = value.strip()
            if line.startswith("ready"):
                break
        assert "clip_embedding" in lines["tasks"].split(", "), lines
        with httpx.Client(base_url=lines["compute"], timeout=30) as http:
            assert "clip_embedding" in http.get("/capabilities").json()["capabilities"]
            image = media_path("astronaut.jpg")
            files = {"file": (image.name, image.read_bytes())}
            job_id = http.post("/jobs/clip_embedding", files=files).json()["job_id"]
            deadline = time.monotonic() + 30
            while (job := http.get(f"/jobs/{job_id}").json())["status"] != "completed":
                assert job["status"] != "error" and time.monotonic() < deadline, job
                time.sleep(0.02)
            assert job["task_output"] == {
                "embedding_dim": 512,
                "normalized": True,
                "model": "tiny-clip.onnx",
            }
            data = http.get(f"/jobs/{job_id}/files/output/clip_embedding.npy").content
        saved = np.load(io.BytesIO(data))
        want = _expected(
            image,
            weights,
            size=224,
            mean=(0, 0, 0),
            std=(1, 1, 1),
            resample=Image.Resampling.BICUBIC,
        )
        assert saved.shape == (512,) and saved.dtype == np.float32
        np.testing.assert_allclose(saved, want, atol=ATOL)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0


def test_dino_model_gives_its_cls_token_with_imagenet_normalisation(
    tmp_path: Path,
    cl_server_factory: ServerFactory,
    make_api: Callable[..., Api],
    media_path: Callable[[str], Path],
) -> None:
    model = tmp_path / "tiny-dino.onnx"
    cls_weights = _build(model, size=224, channels_last=False, dim=384, tokens=True)[0]
    server = cl_server_factory.start(
        executors={"dino_embedding": model_executor("dino_embedding", model)}
    )
    api = make_api(server)
    image = media_path("coffee.jpg")
    job = api.run("dino_embedding", image)
    assert job["task_output"]["embedding_dim"] == 384
    want = _expected(
        image,
        cls_weights,
        size=224,
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        resample=Image.Resampling.BICUBIC,
    )
    np.testing.assert_allclose(_vector(api, job), want, atol=ATOL)
    # normalize=false: the raw output, in the same direction.
    raw = _vector(api, api.run("dino_embedding", image, {"normalize": "false"}))
    np.testing.assert_allclose(raw / np.linalg.norm(raw), want, atol=ATOL)


def test_channels_last_face_model_with_its_own_input_size(
    tmp_path: Path,
    cl_server_factory: ServerFactory,
    make_api: Callable[..., Api],
    media_path: Callable[[str], Path],
) -> None:
    model = tmp_path / "tiny-face.onnx"
    weights = _build(model, size=96, channels_last=True, dim=128, tokens=False)[0]
    server = cl_server_factory.start(
        executors={"face_embedding": model_executor("face_embedding", model)}
    )
    api = make_api(server)
    image = media_path("astronaut.jpg")
    job = api.run("face_embedding", image)
    out = job["task_output"]
    assert out["embedding_dim"] == 128 and out["model"] == "tiny-face.onnx"
    assert 0 <= out["quality_score"] <= 1
    # ArcFace's (x - 127.5) / 127.5, at the model's own 96x96 input, NHWC.
    want = _expected(
        image, weights, size=96, mean=(0.5,) * 3, std=(0.5,) * 3, resample=Image.Resampling.BILINEAR
    )
    np.testing.assert_allclose(_vector(api, job), want, atol=ATOL)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("clip_embedding", "'clip_embedding' is not of the form TASK=PATH.onnx"),
        (
            "hash={model}",
            "'hash' cannot take a model; one of: clip_embedding, dino_embedding, face_embedding",
        ),
        ("clip_embedding={missing}", "{missing}: no such file"),
        ("clip_embedding={garbage}", "{garbage}: not a model onnxruntime can load"),
    ],
)
def test_model_option_refuses_what_it_cannot_serve_in_one_line(
    tmp_path: Path, spec: str, message: str
) -> None:
    model = tmp_path / "tiny.onnx"
    _build(model, size=224, channels_last=False, dim=8, tokens=False)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    names = {"model": model, "missing": tmp_path / "missing.onnx", "garbage": garbage}
    result = CliRunner().invoke(
        app, ["run", "--data-dir", str(tmp_path / "data"), "--model", spec.format(**names)]
    )
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --model: {message.format(**names)}")
    assert not (tmp_path / "data").exists()
