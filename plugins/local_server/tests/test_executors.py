"""The built-in executors on the shared test media, through the HTTP API (PROTOCOL §5)."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from cl_local_server.executors import ProcessTracker
from cl_local_server.executors.exif import extract_metadata, format_exposure
from cl_local_server.executors.images import fit_size
from PIL import Image, ImageEnhance, ImageOps

if TYPE_CHECKING:
    import numpy.typing as npt
    from conftest import Api

pytestmark = pytest.mark.timeout(120)


def test_hash_md5_and_sha512(api: Api, media_path: Callable[[str], Path]) -> None:
    for name in ("astronaut.jpg", "chelsea.png"):
        path = media_path(name)
        job = api.run("hash", path, {"algorithm": "md5"})
        result = json.loads(api.download(job["job_id"], "output/hash.json"))
        assert result["hash_value"] == hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324
        assert result["algorithm"] == "md5" and result["media_type"] == "image"
        assert isinstance(result["process_time"], float)
        job = api.run("hash", path)
        result = json.loads(api.download(job["job_id"], "output/hash.json"))
        with Image.open(path) as img:
            assert result["hash_value"] == hashlib.sha512(img.tobytes()).hexdigest()
        assert result["algorithm"] == "sha512_image"
        assert job["task_output"] == {"media_type": "image"}


def test_hash_video_and_generic(
    api: Api, media_path: Callable[[str], Path], tmp_path: Path
) -> None:
    video = media_path("astronaut.mp4")
    first = api.run("hash", video)
    assert first["task_output"] == {"media_type": "video"}
    a = json.loads(api.download(first["job_id"], "output/hash.json"))
    b = json.loads(api.download(api.run("hash", video)["job_id"], "output/hash.json"))
    assert a["algorithm"] == "sha512_video" and re.fullmatch(r"[0-9a-f]{128}", a["hash_value"])
    assert a["hash_value"] == b["hash_value"]  # deterministic
    assert a["hash_value"] != hashlib.sha512(video.read_bytes()).hexdigest()
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 10)
    job = api.run("hash", blob)
    result = json.loads(api.download(job["job_id"], "output/hash.json"))
    assert job["task_output"] == {"media_type": "file"}
    assert result == {
        **result,
        "algorithm": "sha512_generic",
        "hash_value": hashlib.sha512(blob.read_bytes()).hexdigest(),
    }


def _check_astronaut_exif(meta: dict[str, object]) -> None:
    assert meta["make"] == "NASA"
    assert meta["model"] == "Hasselblad 500EL"
    assert meta["date_time_original"] == "1998:10:29 14:30:00"
    assert meta["orientation"] == 1
    assert meta["exposure_time"] == "1/250"
    assert meta["f_number"] == 8.0
    assert meta["image_width"] == 512 and meta["image_height"] == 512
    assert abs(float(meta["gps_latitude"]) - 28.5239) < 1e-3  # type: ignore[arg-type]
    assert abs(float(meta["gps_longitude"]) - (-80.6508)) < 1e-3  # type: ignore[arg-type]
    raw = meta["raw_metadata"]
    assert isinstance(raw, dict) and raw["Make"] == "NASA"


def test_exif(api: Api, media_path: Callable[[str], Path]) -> None:
    job = api.run("exif", media_path("astronaut.jpg"))
    meta = json.loads(api.download(job["job_id"], "output/exif_metadata.json"))
    assert meta == job["task_output"]
    assert set(meta) == {
        "make", "model", "date_time_original", "create_date", "image_width", "image_height",
        "orientation", "iso", "f_number", "exposure_time", "focal_length", "gps_latitude",
        "gps_longitude", "gps_altitude", "software", "raw_metadata",
    }  # fmt: skip
    _check_astronaut_exif(meta)
    job = api.run("exif", media_path("astronaut.jpg"), {"tags": "Make,model"})
    assert set(job["task_output"]["raw_metadata"]) == {"Make", "Model"}
    assert job["task_output"]["make"] == "NASA" and job["task_output"]["date_time_original"] is None
    job = api.run("exif", media_path("coffee.jpg"))
    assert job["task_output"]["make"] is None and job["task_output"]["gps_latitude"] is None


@pytest.mark.parametrize("use_exiftool", [False, True])
def test_exif_backends_agree(use_exiftool: bool, media_path: Callable[[str], Path]) -> None:
    import shutil

    path = media_path("astronaut.jpg")
    if use_exiftool and shutil.which("exiftool") is None:
        # Without exiftool the default backend is Pillow; forcing exiftool fails clearly.
        with pytest.raises(RuntimeError, match="exiftool"):
            extract_metadata(path, [], ProcessTracker(), use_exiftool=True)
        meta = extract_metadata(path, [], ProcessTracker())
    else:
        meta = extract_metadata(path, [], ProcessTracker(), use_exiftool=use_exiftool)
    _check_astronaut_exif(meta)  # type: ignore[arg-type]
    assert format_exposure(0.004) == "1/250" and format_exposure("1 250") == "1/250"
    assert format_exposure(2.0) == "2" and format_exposure((1, 60)) == "1/60"


def test_face_detection(api: Api, media_path: Callable[[str], Path]) -> None:
    job = api.run("face_detection", media_path("astronaut.jpg"))
    out = job["task_output"]
    assert out == json.loads(api.download(job["job_id"], "output/face_detection.json"))
    assert out["num_faces"] == 1 and out["image_width"] == 512 and out["image_height"] == 512
    face = out["faces"][0]
    box = face["bbox"]
    assert set(box) == {"x1", "y1", "x2", "y2"}
    assert 0 <= box["x1"] < box["x2"] <= 1 and 0 <= box["y1"] < box["y2"] <= 1
    assert 0.7 <= face["confidence"] <= 1
    assert set(face["landmarks"]) == {
        "right_eye",
        "left_eye",
        "nose_tip",
        "mouth_right",
        "mouth_left",
    }
    for x, y in face["landmarks"].values():
        assert box["x1"] <= x <= box["x2"] and box["y1"] <= y <= box["y2"]
    marks = face["landmarks"]
    assert marks["right_eye"][0] < marks["left_eye"][0]
    assert marks["mouth_right"][0] < marks["mouth_left"][0]
    # Found by YuNet, not placed from a template: eyes above the nose tip, above the mouth.
    eyes_y = max(marks["right_eye"][1], marks["left_eye"][1])
    assert eyes_y < marks["nose_tip"][1] < min(marks["mouth_right"][1], marks["mouth_left"][1])
    assert face["file_path"] == "faces/face_0.png"
    crop = Image.open(io.BytesIO(api.download(job["job_id"], "faces/face_0.png")))
    assert crop.size == (112, 112) and crop.mode == "RGB"
    for name in ("chelsea.png", "coffee.jpg"):
        out = api.run("face_detection", media_path(name))["task_output"]
        assert out["num_faces"] == 0 and out["faces"] == []
    # a threshold above the face's confidence drops it
    out = api.run("face_detection", media_path("astronaut.jpg"), {"confidence_threshold": "1"})[
        "task_output"
    ]
    assert out["num_faces"] == 0


def test_image_conversion(api: Api, media_path: Callable[[str], Path]) -> None:
    for fmt, pil_format in (
        ("webp", "WEBP"),
        ("jpeg", "JPEG"),
        ("png", "PNG"),
        ("gif", "GIF"),
        ("bmp", "BMP"),
        ("tiff", "TIFF"),
    ):
        job = api.run(
            "image_conversion", media_path("chelsea.png"), {"format": fmt, "quality": "70"}
        )
        assert job["task_output"] == {}
        ext = "jpg" if fmt == "jpeg" else fmt
        assert job["params"]["output_path"] == f"output/converted_chelsea.{ext}"
        img = Image.open(io.BytesIO(api.download(job["job_id"], job["params"]["output_path"])))
        assert img.format == pil_format and img.size == (451, 300)


def test_image_conversion_drops_alpha_for_jpg(api: Api, tmp_path: Path) -> None:
    rgba = tmp_path / "alpha.png"
    Image.new("RGBA", (40, 30), (255, 0, 0, 128)).save(rgba)
    job = api.run("image_conversion", rgba, {"format": "jpg"})
    img = Image.open(io.BytesIO(api.download(job["job_id"], "output/converted_alpha.jpg")))
    assert img.mode == "RGB" and img.size == (40, 30)


def test_image_thumbnails(api: Api, media_path: Callable[[str], Path]) -> None:
    def thumb(data: dict[str, str]) -> Image.Image:
        job = api.run("media_thumbnail", media_path("coffee.jpg"), data)
        assert job["task_output"] == {"media_type": "image"}
        img = Image.open(io.BytesIO(api.download(job["job_id"], "output/thumbnail.jpg")))
        assert img.format == "JPEG"
        return img

    assert thumb({}).size == (256, 171)  # 600x400 into the default 256x256 box
    assert thumb({"width": "100", "height": "100"}).size == (100, 67)
    assert thumb({"width": "120"}).size == (120, 80)
    assert thumb({"height": "40"}).size == (60, 40)
    assert thumb({"width": "50", "height": "50", "maintain_aspect_ratio": "false"}).size == (50, 50)
    assert thumb({"width": "4000"}).size == (600, 400)  # never upscaled
    assert fit_size(451, 300, None, None, True) == (256, 170)


def test_video_thumbnail(api: Api, media_path: Callable[[str], Path]) -> None:
    job = api.run("media_thumbnail", media_path("astronaut.mp4"))
    assert job["task_output"] == {"media_type": "video"}
    img = Image.open(io.BytesIO(api.download(job["job_id"], "output/thumbnail.jpg")))
    assert img.width <= 256 and img.height <= 256
    assert img.size == (256, 144)  # a 4x4 sheet of 640x360 frames fit into 256x256
    # the sheet is not blank: frames were decoded into every cell
    cells = [
        img.crop((c * 64, r * 36, c * 64 + 64, r * 36 + 36)) for r in range(4) for c in range(4)
    ]
    assert all(max(cell.convert("L").getextrema()) > 40 for cell in cells)


def test_hls_streaming(api: Api, media_path: Callable[[str], Path]) -> None:
    variants = '[{"resolution":240,"bitrate":400},{"resolution":144,"bitrate":150}]'
    job = api.run(
        "hls_streaming",
        media_path("astronaut.mp4"),
        {"variants": variants, "include_original": "true"},
    )
    out = job["task_output"]
    assert job["params"]["output_path"] == "output"
    assert out["variants_generated"] == 2 and out["include_original"] is True
    job_dir = api.server.info.data_dir / "compute" / "jobs" / job["job_id"]
    assert out["master_playlist"] == str(job_dir / "output" / "adaptive.m3u8")
    master = api.download(job["job_id"], "output/adaptive.m3u8").decode()
    assert master.startswith("#EXTM3U")
    playlists = [line for line in master.splitlines() if line and not line.startswith("#")]
    assert playlists == ["adaptive-240p-400.m3u8", "adaptive-144p-150.m3u8", "adaptive-orig.m3u8"]
    segments = 0
    for name in playlists:
        text = api.download(job["job_id"], f"output/{name}").decode()
        assert text.startswith("#EXTM3U") and "#EXT-X-ENDLIST" in text
        stem = name.removesuffix(".m3u8")
        files = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert files and all(re.fullmatch(rf"{stem}-\d{{3}}\.ts", f) for f in files)
        for f in files:
            data = api.download(job["job_id"], f"output/{f}")
            assert data[0] == 0x47  # MPEG-TS sync byte
        durations = [float(m) for m in re.findall(r"#EXTINF:([\d.]+)", text)]
        assert abs(sum(durations) - 4.0) < 0.5
        if stem != "adaptive-orig":
            assert max(durations) <= 2.5  # 2-second segments
        segments += len(files)
    assert out["total_segments"] == segments
    assert api.download(job["job_id"], "output/adaptive-orig-000.ts")
    r = api.compute.get(f"/jobs/{job['job_id']}/files/output")
    assert r.status_code == 400  # params.output_path is a directory (B8)


def test_hls_rejects_images(api: Api, media_path: Callable[[str], Path]) -> None:
    job = api.wait(api.submit_ok("hls_streaming", media_path("coffee.jpg")))
    assert job["status"] == "error" and "no video stream" in job["error_message"]


def _variant_playlists(api: Api, job_id: str) -> list[tuple[str, str]]:
    """(playlist, RESOLUTION) of each variant in the master playlist."""
    master = api.download(job_id, "output/adaptive.m3u8").decode().splitlines()
    return [
        (master[i + 1], re.findall(r"RESOLUTION=(\d+x\d+)", line)[0])
        for i, line in enumerate(master)
        if line.startswith("#EXT-X-STREAM-INF")
    ]


def test_hls_default_variants_never_upscale(api: Api, media_path: Callable[[str], Path]) -> None:
    source = media_path("astronaut.mp4")  # 640x360
    job = api.run("hls_streaming", source)
    # The default 720p and 480p both become one 360p variant, at the bitrate for 360p.
    assert job["params"]["variants"] == [
        {"resolution": 720, "bitrate": 3500},
        {"resolution": 480, "bitrate": 1500},
    ]
    assert _variant_playlists(api, job["job_id"]) == [("adaptive-360p-1000.m3u8", "640x360")]
    assert job["task_output"]["variants_generated"] == 1
    # Asked for, a variant above the source is encoded as asked.
    asked = '[{"resolution":480,"bitrate":600},{"resolution":240,"bitrate":300}]'
    job = api.run("hls_streaming", source, {"variants": asked})
    assert _variant_playlists(api, job["job_id"]) == [
        ("adaptive-480p-600.m3u8", "854x480"),
        ("adaptive-240p-300.m3u8", "426x240"),
    ]


def _npy(api: Api, job: dict[str, Any]) -> npt.NDArray[np.float32]:
    data = api.download(job["job_id"], job["params"]["output_path"])
    return np.load(io.BytesIO(data))


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _embed(api: Api, tmp_path: Path, name: str, data: bytes, **form: str) -> dict[str, Any]:
    path = tmp_path / name
    path.write_bytes(data)
    return api.run("face_embedding", path, form)


def test_face_embedding_is_a_real_128_value_sface_vector(
    api: Api, media_path: Callable[[str], Path], tmp_path: Path
) -> None:
    assert "face_embedding" in api.compute.get("/capabilities").json()["capabilities"]
    detected = api.run("face_detection", media_path("astronaut.jpg"))
    crop_bytes = api.download(detected["job_id"], "faces/face_0.png")
    crop = Image.open(io.BytesIO(crop_bytes)).convert("RGB")

    job = _embed(api, tmp_path, "face_0.png", crop_bytes)
    out = job["task_output"]
    assert out["embedding_dim"] == 128 and out["normalized"] is True
    assert out["model"] == "sface_2021dec_int8bq"
    assert 0 <= out["quality_score"] <= 1 and out["face_confidence"] > 0.7
    vector = _npy(api, job)
    assert vector.shape == (128,) and vector.dtype == np.float32
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-5)
    # Deterministic: the same crop again gives the very same vector.
    np.testing.assert_array_equal(_npy(api, _embed(api, tmp_path, "again.png", crop_bytes)), vector)
    # normalize=false: the raw vector, in the same direction.
    raw = _npy(api, _embed(api, tmp_path, "raw.png", crop_bytes, normalize="false"))
    assert abs(float(np.linalg.norm(raw)) - 1.0) > 0.01
    np.testing.assert_allclose(raw / np.linalg.norm(raw), vector, atol=1e-5)

    jpeg = io.BytesIO()
    crop.save(jpeg, "JPEG", quality=30)
    own = {
        "flipped": _png(ImageOps.mirror(crop)),
        "brightened": _png(ImageEnhance.Brightness(crop).enhance(1.3)),
        "re-encoded": jpeg.getvalue(),
    }
    others = {
        "chelsea": _png(Image.open(media_path("chelsea.png")).convert("RGB").resize((112, 112))),
        "coffee": _png(Image.open(media_path("coffee.jpg")).convert("RGB").resize((112, 112))),
    }

    def similarity(name: str, data: bytes) -> float:
        return float(_npy(api, _embed(api, tmp_path, name, data)) @ vector)

    own_scores = {name: similarity(f"{name}.png", data) for name, data in own.items()}
    other_scores = {name: similarity(f"{name}.png", data) for name, data in others.items()}
    # OpenCV's same-person cut-off for SFace's cosine similarity is 0.363.
    assert min(own_scores.values()) > 0.363 > max(other_scores.values()), (own_scores, other_scores)


def test_face_embedding_of_inputs_without_a_face(
    api: Api, media_path: Callable[[str], Path], tmp_path: Path
) -> None:
    # No detection happens (as upstream): an image without a face is embedded all the same, and
    # face_confidence says there was no face in it.
    job = api.run("face_embedding", media_path("coffee.jpg"))
    assert job["task_output"]["embedding_dim"] == 128
    assert job["task_output"]["face_confidence"] < 0.5
    assert _npy(api, job).shape == (128,)
    # Not an image at all: the job fails, naming the file.
    text = tmp_path / "notes.txt"
    text.write_text("no face here\n")
    failed = api.wait(api.submit_ok("face_embedding", text))
    assert failed["status"] == "error"
    assert failed["error_message"] == "Unsupported media type: cannot decode notes.txt as an image"
