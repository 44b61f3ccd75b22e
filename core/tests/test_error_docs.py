"""The errors' docstrings promise only attributes the errors have."""

from __future__ import annotations

import re

from cl_client.errors import JobFailedError, JobTimeoutError


def _promised(doc: str | None) -> set[str]:
    """Names written as ``name`` that the docstring presents as attributes (``x`` is / names)."""
    return set(re.findall(r"``(\w+)`` (?:is|names|are)\b", doc or ""))


def test_job_failed_error_has_what_its_docstring_promises() -> None:
    exc = JobFailedError("job j ended in error: boom", job_id="j", error_message="boom")
    promised = _promised(JobFailedError.__doc__)
    assert promised >= {"job_id", "error_message"}
    for name in promised:
        assert hasattr(exc, name), name
    assert (exc.job_id, exc.error_message) == ("j", "boom")


def test_job_timeout_error_has_what_its_docstring_promises() -> None:
    exc = JobTimeoutError("timed out", job_id="j", last_status="queued")
    for name in _promised(JobTimeoutError.__doc__):
        assert hasattr(exc, name), name
