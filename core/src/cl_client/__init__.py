"""cl-client: a client library and plugin-based command line for the CL media/ML compute server.

The public names below are imported lazily (on first attribute access), so ``import cl_client``
stays cheap and does not import httpx or paho-mqtt; those load when a client first talks to a
server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from cl_client.auth import AuthClient, Session, TokenStore, token_expiry
    from cl_client.client import Client
    from cl_client.compute import ComputeClient
    from cl_client.config import (
        AuthMode,
        ConfigStore,
        Overrides,
        Profile,
        Settings,
        Source,
        config_dir,
        resolve_settings,
        state_dir,
    )
    from cl_client.errors import (
        AuthenticationError,
        BadRequestError,
        BrokerUnavailableError,
        ClError,
        ConfigError,
        ConfigWarning,
        FieldError,
        HTTPStatusError,
        InsecureFileError,
        InvalidInputError,
        JobFailedError,
        JobTimeoutError,
        MalformedResponseError,
        NotFoundError,
        NotLoggedInError,
        NoWorkerError,
        PermissionDeniedError,
        PluginError,
        RequestTimeoutError,
        ServerError,
        ServiceUnreachableError,
        SessionExpiredError,
        TransportError,
        UnsafeResultPathError,
        ValidationError,
    )
    from cl_client.models import (
        Capabilities,
        CleanupResult,
        FormValue,
        GuestConfig,
        GuestModeUpdate,
        Health,
        Job,
        JobCreated,
        JobEvent,
        JobProgress,
        JsonObject,
        PublicKey,
        StorageSize,
        Token,
        TokenClaims,
        User,
        WorkerCapability,
    )
    from cl_client.mqtt import JobWatch, MqttMonitor
    from cl_client.tasks import TaskClient, TaskResult
    from cl_client.transport import ServiceTransport

    __version__: str

_EXPORTS: Final[dict[str, tuple[str, ...]]] = {
    "cl_client.client": ("Client",),
    "cl_client.config": (
        "AuthMode",
        "ConfigStore",
        "Overrides",
        "Profile",
        "Settings",
        "Source",
        "config_dir",
        "resolve_settings",
        "state_dir",
    ),
    "cl_client.auth": ("AuthClient", "Session", "TokenStore", "token_expiry"),
    "cl_client.compute": ("ComputeClient",),
    "cl_client.mqtt": ("JobWatch", "MqttMonitor"),
    "cl_client.transport": ("ServiceTransport",),
    "cl_client.tasks": ("TaskClient", "TaskResult"),
    "cl_client.errors": (
        "AuthenticationError",
        "BadRequestError",
        "BrokerUnavailableError",
        "ClError",
        "ConfigError",
        "ConfigWarning",
        "FieldError",
        "HTTPStatusError",
        "InsecureFileError",
        "InvalidInputError",
        "JobFailedError",
        "JobTimeoutError",
        "MalformedResponseError",
        "NoWorkerError",
        "NotFoundError",
        "NotLoggedInError",
        "PermissionDeniedError",
        "PluginError",
        "RequestTimeoutError",
        "ServerError",
        "ServiceUnreachableError",
        "SessionExpiredError",
        "TransportError",
        "UnsafeResultPathError",
        "ValidationError",
    ),
    "cl_client.models": (
        "Capabilities",
        "CleanupResult",
        "FormValue",
        "GuestConfig",
        "GuestModeUpdate",
        "Health",
        "Job",
        "JobCreated",
        "JobEvent",
        "JobProgress",
        "JsonObject",
        "PublicKey",
        "StorageSize",
        "Token",
        "TokenClaims",
        "User",
        "WorkerCapability",
    ),
}
_MODULE_OF: Final[dict[str, str]] = {
    name: module for module, names in _EXPORTS.items() for name in names
}

__all__ = [
    "AuthClient",
    "AuthMode",
    "AuthenticationError",
    "BadRequestError",
    "BrokerUnavailableError",
    "Capabilities",
    "ClError",
    "CleanupResult",
    "Client",
    "ComputeClient",
    "ConfigError",
    "ConfigStore",
    "ConfigWarning",
    "FieldError",
    "FormValue",
    "GuestConfig",
    "GuestModeUpdate",
    "HTTPStatusError",
    "Health",
    "InsecureFileError",
    "InvalidInputError",
    "Job",
    "JobCreated",
    "JobEvent",
    "JobFailedError",
    "JobProgress",
    "JobTimeoutError",
    "JobWatch",
    "JsonObject",
    "MalformedResponseError",
    "MqttMonitor",
    "NoWorkerError",
    "NotFoundError",
    "NotLoggedInError",
    "Overrides",
    "PermissionDeniedError",
    "PluginError",
    "Profile",
    "PublicKey",
    "RequestTimeoutError",
    "ServerError",
    "ServiceTransport",
    "ServiceUnreachableError",
    "Session",
    "SessionExpiredError",
    "Settings",
    "Source",
    "StorageSize",
    "TaskClient",
    "TaskResult",
    "Token",
    "TokenClaims",
    "TokenStore",
    "TransportError",
    "UnsafeResultPathError",
    "User",
    "ValidationError",
    "WorkerCapability",
    "__version__",
    "config_dir",
    "resolve_settings",
    "state_dir",
    "token_expiry",
]


def __getattr__(name: str) -> object:
    module = _MODULE_OF.get(name)
    if module is not None:
        value: object = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("cl-client")
        except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
            found = "0+unknown"
        globals()["__version__"] = found
        return found
    raise AttributeError(f"module 'cl_client' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
