"""A local, self-contained CL-compatible server: auth + compute + MQTT broker + workers.

The names below are imported lazily: the ``cl`` plugin module lives in this package and must stay
cheap to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cl_local_server.config import ServerConfig
    from cl_local_server.executors import Executor, ExecutorRegistry, TaskContext
    from cl_local_server.server import LocalServer, ServerInfo, run_forever

__version__ = "0.1.0"

_EXPORTS = {
    "ServerConfig": "cl_local_server.config",
    "Executor": "cl_local_server.executors",
    "ExecutorRegistry": "cl_local_server.executors",
    "TaskContext": "cl_local_server.executors",
    "LocalServer": "cl_local_server.server",
    "ServerInfo": "cl_local_server.server",
    "run_forever": "cl_local_server.server",
}

__all__ = [
    "Executor",
    "ExecutorRegistry",
    "LocalServer",
    "ServerConfig",
    "ServerInfo",
    "TaskContext",
    "run_forever",
]


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cl_local_server' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
