"""Helpers for the user-admin tests: ``cl`` run in-process as one of several identities.

Each :class:`Identity` has its own config and token folders, so an admin and an ordinary user can be
logged in to the same server side by side, exactly as two people on two machines would be.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from cl_client.testing import CLIENT_ENV_VARS, ClRunner
from typer.testing import Result

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer


@dataclass
class Identity:
    """One person using ``cl`` against a server: their own config and token store."""

    env: dict[str, str]

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return ClRunner(self.env)(*args, input=input)

    def login(self, username: str, password: str) -> Result:
        return self("login", "--username", username, "--password-stdin", input=password + "\n")

    def json(self, *args: str, input: str | None = None) -> object:
        """Run a command with ``--json`` that must succeed; its stdout parsed."""
        result = self(*args, "--json", input=input)
        assert result.exit_code == 0, (args, result.exit_code, result.stdout, result.stderr)
        return json.loads(result.stdout)

    def subprocess_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV_VARS}
        env.update(self.env)
        return env


MakeIdentity = Callable[["LocalServer", str], Identity]


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def cl_executable() -> str:
    """The ``cl`` console script of the environment running the tests."""
    found = shutil.which("cl", path=str(Path(sys.executable).parent))
    assert found is not None, "the cl console script is not installed next to this Python"
    return found


def flat(text: str) -> str:
    """Help text with Rich's box characters and line breaks removed, for substring checks."""
    for char in "│╭╮╰╯─":
        text = text.replace(char, " ")
    return " ".join(text.split())


def user_named(users: object, username: str) -> dict[str, object]:
    """The record of ``username`` in the decoded output of ``cl user list --json``."""
    assert isinstance(users, list)
    for user in cast("list[object]", users):
        assert isinstance(user, dict)
        record = cast("dict[str, object]", user)
        if record.get("username") == username:
            return record
    raise AssertionError(f"no user {username!r} in {users!r}")
