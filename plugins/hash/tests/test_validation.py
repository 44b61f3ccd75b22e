"""Parameter checks of the hash client and command: refused before anything is sent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cl_client.errors import InvalidInputError
from cl_client.testing import OFFLINE_ENV, ClRunner, run_with_compute
from cl_plugin_hash.client import HashClient, validate_algorithm

REPO = Path(__file__).resolve().parents[3]
MEDIA = REPO.parent / "shared" / "media"
ASTRONAUT = MEDIA / "astronaut.jpg"


def _submit_offline(file: Path, **params: object) -> None:
    run_with_compute(
        OFFLINE_ENV,
        lambda compute: HashClient(compute).submit(file, **params),  # pyright: ignore[reportArgumentType]
    )


def test_both_algorithms_are_accepted() -> None:
    assert validate_algorithm("sha512") == "sha512"
    assert validate_algorithm("md5") == "md5"


@pytest.mark.parametrize("algorithm", ["sha1", "SHA512", "", "md5 "])
def test_other_algorithms_are_refused(algorithm: str) -> None:
    with pytest.raises(InvalidInputError, match="algorithm must be one of sha512, md5"):
        validate_algorithm(algorithm)


@pytest.mark.usefixtures("cl_isolated")
def test_library_refuses_a_bad_algorithm_before_sending() -> None:
    with pytest.raises(InvalidInputError, match="algorithm"):
        _submit_offline(ASTRONAUT, algorithm="crc32")


@pytest.mark.usefixtures("cl_isolated")
@pytest.mark.parametrize("priority", [-1, 11])
def test_library_refuses_a_priority_out_of_range(priority: int) -> None:
    with pytest.raises(InvalidInputError, match="priority must be between 0 and 10"):
        _submit_offline(ASTRONAUT, priority=priority)


@pytest.mark.usefixtures("cl_isolated")
def test_library_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="file not found"):
        _submit_offline(tmp_path / "missing.jpg")


def test_command_refuses_a_bad_algorithm_in_one_line(cl_offline: ClRunner) -> None:
    result = cl_offline("hash", "compute", str(ASTRONAUT), "--algorithm", "sha1")
    assert result.exit_code == 2
    assert result.stderr == "error: algorithm must be one of sha512, md5; got 'sha1'\n"
    assert result.stdout == ""


def test_command_refuses_a_missing_file_in_one_line(cl_offline: ClRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope.jpg"
    result = cl_offline("hash", "compute", str(ASTRONAUT), str(missing))
    assert result.exit_code == 2
    assert result.stderr == f"error: file not found: {missing}\n"
    assert "Traceback" not in result.output


def test_command_refuses_a_fifo_in_one_line(cl_offline: ClRunner, tmp_path: Path) -> None:
    # Folders are inputs (walked; see test_cli); what is neither file nor folder is refused.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = cl_offline("hash", "compute", str(ASTRONAUT), str(fifo))
    assert result.exit_code == 2
    assert result.stderr == f"error: not a regular file: {fifo}\n"
    assert result.stdout == ""


def test_unreachable_server_is_exit_5_in_one_line(cl_offline: ClRunner) -> None:
    # The counterpart of the tests above: with valid input the same setup does reach the network.
    result = cl_offline("hash", "compute", str(ASTRONAUT))
    assert result.exit_code == 5
    assert result.stderr.startswith("error: cannot reach compute service at http://127.0.0.1:9")
    assert len(result.stderr.splitlines()) == 1
