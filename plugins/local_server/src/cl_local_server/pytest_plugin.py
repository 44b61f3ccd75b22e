"""pytest fixtures that run real local servers (registered through the ``pytest11`` entry point).

* ``cl_server_factory`` — ``start(auth_mode=..., executors=..., compat=..., broker=...,
  token_expire_minutes=..., **config) -> LocalServer``; every server it started is stopped at
  teardown. Servers run the built-in executors, those of the ``cl_local_server.executors`` entry
  point, and ``executors`` (``{task_type: function | "module:function" | None}``).
* ``cl_server`` — a started no-auth server with the embedded broker.
* ``cl_server_jwt`` — a started JWT server, guest mode off, admin ``admin`` /
  :data:`ADMIN_PASSWORD`.
* ``cl_broker`` — parametrised over every broker kind: mosquitto is a skip with its reason when
  it is not installed.

For testing ``cl`` commands (built on :mod:`cl_client.testing`):

* ``cl_isolated`` — no ``CL_*`` settings from outside; profiles and tokens in ``tmp_path``.
* ``cl_offline`` — a :class:`~cl_client.testing.ClRunner` whose services are where nothing
  listens: an exit 2 there proves the input was refused before any request.
* ``cl_against`` — ``cl_against(server) -> ClRunner``: ``cl`` (and the library's ``Client()``)
  pointed at ``server``, isolated.
* ``cl_module_server`` — a no-auth server shared by the tests of one module: the built-in
  executors plus ``cl_module_executors`` (module scope; override it, e.g. in ``conftest.py``, to
  add executors or remove one with ``None``). ``cl_module_server_factory`` starts others that
  live as long.
* ``cl_run`` — ``cl_against(cl_module_server)``.

:func:`stand_in_embedding` is an executor for the embedding tasks whose models the local server
does not ship (``clip_embedding``, ``dino_embedding``).

Heavy modules are imported inside the fixtures, so having this plugin installed costs other test
suites nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

import pytest

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from cl_client.testing import ClRunner

    from cl_local_server.config import AuthMode, Compat
    from cl_local_server.executors import Executor, ExecutorRegistry, TaskContext
    from cl_local_server.server import LocalServer

BrokerKind = Literal["embedded", "mosquitto", "external"]
#: What the ``cl_against`` fixture is: ``cl_against(server)`` gives ``cl`` pointed at ``server``.
ClAgainst = Callable[["LocalServer"], "ClRunner"]

#: The admin password of ``cl_server_jwt`` (and of factory servers unless overridden).
ADMIN_PASSWORD = "admin-test-password"  # noqa: S105 - a fixture value, not a secret
#: Env var naming an external broker for ``broker="external"``.
EXTERNAL_BROKER_ENV = "CL_TEST_MQTT_URL"


def available_brokers() -> list[BrokerKind]:
    """Brokers the MQTT tests can run against here: embedded always, mosquitto when installed,
    the external one when ``CL_TEST_MQTT_URL`` is set."""
    kinds: list[BrokerKind] = ["embedded"]
    if shutil.which("mosquitto"):
        kinds.append("mosquitto")
    if os.environ.get(EXTERNAL_BROKER_ENV):
        kinds.append("external")
    return kinds


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MosquittoBroker:
    """A private ``mosquitto`` on a free loopback port (anonymous, no persistence)."""

    def __init__(self, workdir: Path) -> None:
        exe = shutil.which("mosquitto")
        if exe is None:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        self.port = free_port()
        conf = workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        )
        self._log = (workdir / "mosquitto.log").open("wb")
        self._proc = subprocess.Popen(
            [exe, "-c", str(conf)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self._proc.returncode}; see {workdir}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("mosquitto did not start listening within 10 s") from None
                time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()


class ServerFactory:
    """Starts servers on free ports with fresh data dirs; :meth:`close` (or leaving a ``with``
    block) stops them all."""

    def __init__(self, tmp_root: Path) -> None:
        self._tmp_root = tmp_root
        self._servers: list[LocalServer] = []
        self._mosquitto: MosquittoBroker | None = None
        self._count = 0

    def broker_url(self, broker: BrokerKind) -> str | None:
        """``None`` for the embedded broker, else the URL of the chosen external broker."""
        if broker == "embedded":
            return None
        if broker == "mosquitto":
            if self._mosquitto is None:
                workdir = self._tmp_root / "mosquitto"
                workdir.mkdir(parents=True, exist_ok=True)
                self._mosquitto = MosquittoBroker(workdir)
            return self._mosquitto.url
        url = os.environ.get(EXTERNAL_BROKER_ENV)
        if not url:
            raise pytest.UsageError(
                f'broker="external" needs {EXTERNAL_BROKER_ENV}=mqtt://host:port'
            )
        return url

    def start(
        self,
        auth_mode: AuthMode = "none",
        executors: Mapping[str, Executor | str | None] | None = None,
        compat: Compat = "current",
        broker: BrokerKind = "embedded",
        token_expire_minutes: float = 30.0,
        *,
        registry: ExecutorRegistry | None = None,
        builtin_executors: bool = True,
        **config: object,
    ) -> LocalServer:
        """Start a server. ``executors`` adds (or, with ``None``, removes) executors on top of the
        default ones: the built-in executors and those installed packages declare under the
        ``cl_local_server.executors`` entry point (none with ``builtin_executors=False``). An
        executor is a function or its ``"module:function"`` name. ``registry`` replaces them all.
        Other keyword arguments are :class:`~cl_local_server.config.ServerConfig` fields."""
        from cl_local_server.config import ServerConfig
        from cl_local_server.executors import ExecutorRegistry, default_registry, load_executor
        from cl_local_server.server import LocalServer

        if registry is None:
            registry = default_registry() if builtin_executors else ExecutorRegistry()
            for problem in registry.problems:  # the test that needs it will fail; this says why
                warnings.warn(problem, stacklevel=2)
        for task_type, executor in (executors or {}).items():
            if executor is None:
                registry.unregister(task_type)
            else:
                loaded = load_executor(executor) if isinstance(executor, str) else executor
                registry.register(task_type, loaded)
        self._count += 1
        values: dict[str, object] = {
            "auth_port": 0,
            "compute_port": 0,
            "mqtt_port": 0,
            "data_dir": self._tmp_root / f"server-{self._count}",
            "auth_mode": auth_mode,
            "compat": compat,
            "mqtt_url": self.broker_url(broker),
            "token_expire_minutes": token_expire_minutes,
            "admin_password": ADMIN_PASSWORD,
            "bcrypt_rounds": 4,  # logins in tests need not be slow
            "heartbeat_seconds": 10.0,
        }
        values.update(config)
        server = LocalServer(ServerConfig(**values), registry)  # pyright: ignore[reportArgumentType]
        server.start()
        self._servers.append(server)
        return server

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        errors: list[BaseException] = []
        for server in reversed(self._servers):
            try:
                server.stop()
            except Exception as exc:  # stop every server even if one fails
                errors.append(exc)
        self._servers.clear()
        if self._mosquitto is not None:
            self._mosquitto.stop()
            self._mosquitto = None
        if errors:
            raise errors[0]


@pytest.fixture
def cl_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    with ServerFactory(tmp_path_factory.mktemp("cl-server")) as factory:
        yield factory


@pytest.fixture
def cl_server(cl_server_factory: ServerFactory) -> LocalServer:
    """A started no-auth server (embedded broker, built-in executors)."""
    return cl_server_factory.start(auth_mode="none")


@pytest.fixture
def cl_server_jwt(cl_server_factory: ServerFactory) -> LocalServer:
    """A started JWT server with guest mode off; admin ``admin`` / :data:`ADMIN_PASSWORD`."""
    return cl_server_factory.start(auth_mode="jwt")


def _broker_params() -> list[object]:
    """Every broker kind for ``cl_broker``; mosquitto when missing is a skip that says why,
    never a test quietly left out. The external broker is opt-in (``CL_TEST_MQTT_URL``)."""
    params: list[object] = ["embedded"]
    params.append(
        pytest.param(
            "mosquitto",
            marks=pytest.mark.skipif(
                shutil.which("mosquitto") is None,
                reason="mosquitto is not installed (apt-get install mosquitto; it is in /usr/sbin)",
            ),
        )
    )
    if os.environ.get(EXTERNAL_BROKER_ENV):
        params.append("external")
    return params


@pytest.fixture(params=_broker_params())
def cl_broker(request: pytest.FixtureRequest) -> BrokerKind:
    """Each available broker kind in turn; pass it to ``cl_server_factory.start(broker=...)``."""
    kind: BrokerKind = request.param
    return kind


@pytest.fixture(scope="module")
def cl_module_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerFactory]:
    """Like ``cl_server_factory``, but the servers it starts live until the test module ends."""
    with ServerFactory(tmp_path_factory.mktemp("cl-module-server")) as factory:
        yield factory


@pytest.fixture(scope="module")
def cl_module_executors() -> Mapping[str, Executor | str | None]:
    """Executors ``cl_module_server`` adds to the built-in ones (``None`` removes one): none.
    Override this fixture in a test module or ``conftest.py`` to change that."""
    return {}


@pytest.fixture(scope="module")
def cl_module_server(
    cl_module_server_factory: ServerFactory,
    cl_module_executors: Mapping[str, Executor | str | None],
) -> LocalServer:
    """A started no-auth server shared by the tests of one module: the built-in executors plus
    ``cl_module_executors``."""
    return cl_module_server_factory.start(auth_mode="none", executors=cl_module_executors)


@pytest.fixture
def cl_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No ``CL_*`` settings from outside; profiles and tokens under ``tmp_path`` (returned)."""
    from cl_client.testing import isolate

    return isolate(monkeypatch, tmp_path)


@pytest.fixture
def cl_offline(cl_isolated: Path, monkeypatch: pytest.MonkeyPatch) -> ClRunner:
    """``cl`` (and ``Client()``) pointed where nothing listens: anything sent fails with exit 5,
    so an exit 2 proves the input was refused before any request."""
    from cl_client.testing import OFFLINE_ENV, ClRunner

    for name, value in OFFLINE_ENV.items():
        monkeypatch.setenv(name, value)
    return ClRunner(OFFLINE_ENV)


@pytest.fixture
def cl_against(cl_isolated: Path, monkeypatch: pytest.MonkeyPatch) -> ClAgainst:
    """``cl_against(server) -> ClRunner``: ``cl`` run in-process against ``server``, isolated.
    The process environment points at ``server`` too, so ``Client()`` in the test talks to it."""
    from cl_client.testing import ClRunner

    def against(server: LocalServer) -> ClRunner:
        env = server.client_env()
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return ClRunner(env)

    return against


@pytest.fixture
def cl_run(cl_module_server: LocalServer, cl_against: ClAgainst) -> ClRunner:
    """``cl_run(*args, input=None, env=None) -> Result``: ``cl`` against ``cl_module_server``."""
    return cl_against(cl_module_server)


# --- a stand-in for the embedding tasks ---------------------------------------------------------


def stand_in_vector(data: bytes, dimension: int, *, normalize: bool) -> npt.NDArray[np.float32]:
    """The vector :func:`stand_in_embedding` writes for an input of these bytes: random numbers
    seeded by the input's SHA-256, so the same file always gives the same vector."""
    import numpy as np

    seed = int.from_bytes(hashlib.sha256(data).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dimension) * 3.0
    if normalize:
        vector = vector / np.linalg.norm(vector)
    return vector.astype(np.float32)


def stand_in_embedding(dimension: int, **task_output: object) -> Executor:
    """An executor for an embedding task, whose model this server does not ship: it saves
    :func:`stand_in_vector` with ``np.save`` at ``params.output_path`` as the real worker does and
    returns ``{"embedding_dim", "normalized"}`` plus ``task_output``. It honours ``normalize``
    and reports progress 50."""

    def embed(ctx: TaskContext) -> dict[str, object]:
        import numpy as np

        normalize = ctx.params.get("normalize", True) is True
        ctx.progress(50)
        ctx.output_path.parent.mkdir(parents=True, exist_ok=True)
        vector = stand_in_vector(ctx.input_path.read_bytes(), dimension, normalize=normalize)
        np.save(ctx.output_path, vector)
        return {"embedding_dim": dimension, "normalized": normalize, **task_output}

    return embed
