"""The interactive paths, on a real pseudo-terminal: password prompts without echo, and the
confirmation before a deletion. ``cl`` runs as a subprocess in its own session on the terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest
from user_admin_support import Identity, MakeIdentity, cl_executable, user_named

if TYPE_CHECKING:
    from cl_local_server.server import LocalServer

pytestmark = pytest.mark.timeout(90)


class Terminal:
    """``cl`` with stdin, stdout and stderr on a pseudo-terminal we type into."""

    def __init__(self, who: Identity, args: Sequence[str]) -> None:
        self._master, slave = pty.openpty()
        env = who.subprocess_env()
        env["NO_COLOR"] = "1"
        self._proc = subprocess.Popen(
            [cl_executable(), *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,  # no access to the terminal running the tests
        )
        os.close(slave)
        self.transcript = ""
        self._matched_up_to = 0  # like pexpect: each expect looks past the previous match

    def _read(self, deadline: float) -> bool:
        """Read what is there; False at end of output."""
        ready, _, _ = select.select([self._master], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            return True
        try:
            chunk = os.read(self._master, 4096)
        except OSError:  # EIO: the other side closed
            return False
        if not chunk:
            return False
        self.transcript += chunk.decode(errors="replace")
        return True

    def expect(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while (found := self.transcript.find(text, self._matched_up_to)) < 0:
            if time.monotonic() >= deadline or not self._read(deadline):
                raise AssertionError(f"{text!r} not shown; terminal:\n{self.transcript}")
        self._matched_up_to = found + len(text)

    def type(self, line: str) -> None:
        os.write(self._master, (line + "\n").encode())

    def finish(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline):
            pass
        os.close(self._master)
        return self._proc.wait(timeout=max(deadline - time.monotonic(), 1))


def test_prompts_for_passwords_without_echo_and_confirms_deletion(
    cl_server_jwt: LocalServer, admin: Identity, identity: MakeIdentity
) -> None:
    term = Terminal(admin, ["user", "create", "frank", "--permission", "ai_inference_support"])
    term.expect("Password for frank: ")
    term.type("typo-one")
    term.expect("Repeat it: ")
    term.type("typo-two")
    term.expect("the two passwords differ, try again")
    term.expect("Password for frank: ")
    term.type("frank-secret")
    term.expect("Repeat it: ")
    term.type("frank-secret")
    assert term.finish() == 0, term.transcript
    assert "created user" in term.transcript
    for secret in ("typo-one", "typo-two", "frank-secret"):
        assert secret not in term.transcript
    frank_id = str(user_named(admin.json("user", "list"), "frank")["id"])

    term = Terminal(admin, ["user", "update", frank_id, "--new-password"])
    term.expect(f"New password for user {frank_id}: ")
    term.type("frank-second")
    term.expect("Repeat it: ")
    term.type("frank-second")
    assert term.finish() == 0, term.transcript
    assert "frank-second" not in term.transcript
    frank = identity(cl_server_jwt, "frank")
    assert frank.login("frank", "frank-secret").exit_code == 3
    assert frank.login("frank", "frank-second").exit_code == 0

    term = Terminal(admin, ["user", "delete", frank_id])
    term.expect(f"Delete user {frank_id} (frank)? [y/N]: ")
    term.type("n")
    # declining is cancelling: exit 130, as for every cancelled prompt
    assert term.finish() == 130, term.transcript
    assert "error: cancelled: user" in term.transcript
    assert "was not deleted" in term.transcript
    assert user_named(admin.json("user", "list"), "frank")

    term = Terminal(admin, ["user", "delete", frank_id])
    term.expect(f"Delete user {frank_id} (frank)? [y/N]: ")
    term.type("y")
    assert term.finish() == 0, term.transcript
    assert f"deleted user {frank_id} (frank)" in term.transcript
    assert admin("user", "get", frank_id).exit_code == 4
