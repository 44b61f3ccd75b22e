"""Importing cl_client is cheap: no httpx or paho until a client talks to a server."""

from __future__ import annotations

import json
import subprocess
import sys

import cl_client
import pytest

pytestmark = [pytest.mark.timeout(60)]

HEAVY = ("httpx", "paho", "paho.mqtt.client", "jwt", "tomli_w", "platformdirs")


def loaded_after(code: str) -> list[str]:
    script = (
        f"import json, sys\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    return list(json.loads(out.strip().splitlines()[-1]))


def test_import_cl_client_loads_no_heavy_module() -> None:
    assert loaded_after("import cl_client") == []


def test_creating_a_client_still_loads_no_network_module() -> None:
    code = (
        "import os\n"
        "os.environ['CL_CONFIG_DIR'] = '/nonexistent-cl-config'\n"
        "os.environ['CL_DISABLE_PLUGIN_AUTOLOAD'] = '1'\n"
        "from cl_client import Client, resolve_settings\n"
        "client = Client(resolve_settings(env={}))\n"
        "client.session, client.compute\n"
    )
    assert [m for m in loaded_after(code) if m in ("httpx", "paho", "paho.mqtt.client")] == []


def test_talking_to_a_server_loads_httpx() -> None:
    code = (
        "import asyncio\n"
        "from cl_client import ServiceTransport\n"
        "t = ServiceTransport('compute', 'http://127.0.0.1:9', 1.0, True)\n"
        "t._http()\n"
        "asyncio.run(t.aclose())\n"
    )
    assert "httpx" in loaded_after(code)


def test_public_names_resolve_lazily_and_are_listed() -> None:
    for name in cl_client.__all__:
        assert getattr(cl_client, name) is not None, name
    assert set(dir(cl_client)) >= set(cl_client.__all__)
    assert cl_client.Client.__module__ == "cl_client.client"
    assert isinstance(cl_client.__version__, str) and cl_client.__version__
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = cl_client.Nope  # pyright: ignore[reportAttributeAccessIssue]
