"""A local server per test module whose worker runs a stand-in face_embedding executor, and ``cl``
run in-process against it with isolated config.

The local server has no model for face_embedding, so the executor registered here writes a
deterministic vector derived from the input bytes the way the real worker writes its result
(``np.save`` to ``params.output_path``). What is tested is the client side: upload, wait,
download, decode.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pytest
from typer.testing import CliRunner, Result

if TYPE_CHECKING:
    from cl_local_server.executors import TaskContext
    from cl_local_server.server import LocalServer

RunCl = Callable[..., Result]
DIMENSION = 512


def expected_vector(data: bytes, *, normalize: bool) -> npt.NDArray[np.float32]:
    """The vector the stand-in executor writes for an input of these bytes."""
    seed = int.from_bytes(hashlib.sha256(data).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(DIMENSION) * 3.0
    if normalize:
        vector = vector / np.linalg.norm(vector)
    return vector.astype(np.float32)


def stand_in_executor(ctx: TaskContext) -> dict[str, object]:
    normalize = ctx.params.get("normalize", True) is True
    ctx.progress(50)
    ctx.output_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(ctx.output_path, expected_vector(ctx.input_path.read_bytes(), normalize=normalize))
    return {"embedding_dim": DIMENSION, "normalized": normalize, "quality_score": 0.42}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A no-auth server offering face_embedding through :func:`stand_in_executor`."""
    from cl_local_server.pytest_plugin import ServerFactory

    factory = ServerFactory(tmp_path_factory.mktemp("face_embedding-server"))
    try:
        yield factory.start(auth_mode="none", executors={"face_embedding": stand_in_executor})
    finally:
        factory.close()


def use_server(monkeypatch: pytest.MonkeyPatch, server: LocalServer, tmp_path: Path) -> None:
    """Point ``cl`` and :class:`cl_client.Client` at ``server`` with config in ``tmp_path``."""
    for name in ("CL_PROFILE", "CL_TOKEN", "CL_USERNAME", "CL_PASSWORD", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CL_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CL_STATE_DIR", str(tmp_path / "state"))
    for name, value in server.client_env().items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def cl(server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunCl:
    """``cl(*args)`` runs the real ``cl`` app against ``server``; returns exit code and streams."""
    from cl_client.cli.app import app

    use_server(monkeypatch, server, tmp_path)
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return run


ExpectedVector = Callable[..., "npt.NDArray[np.float32]"]


@pytest.fixture
def expected() -> ExpectedVector:
    """:func:`expected_vector`, for the tests (conftest modules are not importable)."""
    return expected_vector
