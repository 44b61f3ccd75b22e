"""pytest fixtures that run real local servers (registered through the ``pytest11`` entry point).

* ``cl_server_factory`` — ``start(auth_mode=..., executors=..., compat=..., broker=...,
  token_expire_minutes=..., **config) -> LocalServer``; every server it started is stopped at
  teardown.
* ``cl_server`` — a started no-auth server with the embedded broker.
* ``cl_server_jwt`` — a started JWT server, guest mode off, admin ``admin`` /
  :data:`ADMIN_PASSWORD`.
* ``cl_broker`` — parametrised over :func:`available_brokers`, for running MQTT tests against each.

Heavy modules are imported inside the fixtures, so having this plugin installed costs other test
suites nothing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pytest

if TYPE_CHECKING:
    from cl_local_server.config import AuthMode, Compat
    from cl_local_server.executors import Executor, ExecutorRegistry
    from cl_local_server.server import LocalServer

BrokerKind = Literal["embedded", "mosquitto", "external"]

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
    """Starts servers on free ports with fresh data dirs; :meth:`close` stops them all."""

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
        executors: Mapping[str, Executor | None] | None = None,
        compat: Compat = "current",
        broker: BrokerKind = "embedded",
        token_expire_minutes: float = 30.0,
        *,
        registry: ExecutorRegistry | None = None,
        builtin_executors: bool = True,
        **config: object,
    ) -> LocalServer:
        """Start a server. ``executors`` adds (or, with ``None``, removes) executors on top of the
        built-in ones (none with ``builtin_executors=False``); ``registry`` replaces them entirely.
        Other keyword arguments are :class:`~cl_local_server.config.ServerConfig` fields."""
        from cl_local_server.config import ServerConfig
        from cl_local_server.executors import ExecutorRegistry
        from cl_local_server.executors import builtin_executors as builtins
        from cl_local_server.server import LocalServer

        if registry is None:
            registry = ExecutorRegistry(builtins() if builtin_executors else {})
        for task_type, executor in (executors or {}).items():
            if executor is None:
                registry.unregister(task_type)
            else:
                registry.register(task_type, executor)
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
    factory = ServerFactory(tmp_path_factory.mktemp("cl-server"))
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def cl_server(cl_server_factory: ServerFactory) -> LocalServer:
    """A started no-auth server (embedded broker, built-in executors)."""
    return cl_server_factory.start(auth_mode="none")


@pytest.fixture
def cl_server_jwt(cl_server_factory: ServerFactory) -> LocalServer:
    """A started JWT server with guest mode off; admin ``admin`` / :data:`ADMIN_PASSWORD`."""
    return cl_server_factory.start(auth_mode="jwt")


@pytest.fixture(params=available_brokers())
def cl_broker(request: pytest.FixtureRequest) -> BrokerKind:
    """Each available broker kind in turn; pass it to ``cl_server_factory.start(broker=...)``."""
    kind: BrokerKind = request.param
    return kind
