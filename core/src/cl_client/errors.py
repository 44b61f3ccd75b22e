"""One error hierarchy for everything the client can report.

Every exception the library raises on purpose derives from :class:`ClError`. Each class carries the
exit code the ``cl`` command uses for it, so the CLI maps errors to exit codes in exactly one place.
Messages are one line, name what failed and, where there is one, what to do next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Exit codes of the `cl` command (documented in `cl --help` and README).
EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_SERVER = 5
EXIT_INTERRUPTED = 130
#: Standard output was closed early (``cl … | head -1``): output stops quietly, like other tools
#: that die of SIGPIPE (128 + 13).
EXIT_STDOUT_CLOSED = 141


class ClError(Exception):
    """Base class of every error raised by cl-client."""

    exit_code: int = EXIT_SERVER

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# --- local problems -------------------------------------------------------------------------


class ConfigError(ClError):
    """The config file is corrupt, has unknown keys, or names a profile that does not exist."""

    exit_code = EXIT_USAGE


class InsecureFileError(ConfigError):
    """A secret-holding file is readable by group or others."""


class ConfigWarning(UserWarning):
    """Something in the config that is ignored or left unusable, e.g. a key written by a newer
    ``cl``, or another profile of the file that fails the checks. ``cl`` prints it as
    ``warning: …``."""


class InvalidInputError(ClError):
    """Bad input caught before anything is sent: a missing file, a value out of range."""

    exit_code = EXIT_USAGE


# --- talking to the services ----------------------------------------------------------------


class TransportError(ClError):
    """The request did not produce an HTTP answer."""

    exit_code = EXIT_SERVER

    def __init__(self, message: str, *, url: str, request_sent: bool = True) -> None:
        super().__init__(message)
        self.url = url
        #: False only when the connection was never opened, so the server saw nothing.
        self.request_sent = request_sent


class ServiceUnreachableError(TransportError):
    """Connection refused, DNS failure, TLS failure: the service could not be reached."""


class RequestTimeoutError(TransportError):
    """The service accepted the connection but did not answer in time."""


class SubmissionUncertainError(ServiceUnreachableError):
    """A job submission failed after its body was sent: the server may have created the job.

    Never repeated automatically (that could create the job twice); the batch journal records the
    submission as uncertain."""


class MalformedResponseError(ClError):
    """The server answered 2xx with a body that does not match the protocol."""

    exit_code = EXIT_SERVER


class UnsafeResultPathError(MalformedResponseError):
    """The server named a result file whose path could lead outside the job or the destination
    (``../x``, an absolute path, ``faces/``, ``a//b``). The server's fault, so exit 5."""

    def __init__(self, file_path: str, reason: str) -> None:
        super().__init__(f"the server named an unsafe result path {file_path!r} ({reason})")
        self.file_path = file_path


class HTTPStatusError(ClError):
    """A non-2xx answer. ``detail`` is the server's ``detail`` text (or the raw body, shortened)."""

    exit_code = EXIT_SERVER

    def __init__(self, message: str, *, status_code: int, detail: str, url: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail
        self.url = url


class BadRequestError(HTTPStatusError):
    """400: e.g. a duplicate username, or a directory path given to the file download."""

    exit_code = EXIT_USAGE


class AuthenticationError(HTTPStatusError):
    """401: no token, a bad or expired token, or wrong credentials."""

    exit_code = EXIT_AUTH


class PermissionDeniedError(HTTPStatusError):
    """403: authenticated, but not allowed (admin rights or `ai_inference_support` missing)."""

    exit_code = EXIT_AUTH


class NotFoundError(HTTPStatusError):
    """404: a job, user or file that does not exist."""

    exit_code = EXIT_NOT_FOUND


@dataclass(frozen=True, slots=True)
class FieldError:
    """One entry of a 422 answer: where (``loc``, e.g. ``("body", "quality")``) and what
    (``msg``)."""

    loc: tuple[str | int, ...]
    msg: str

    @property
    def field(self) -> str:
        """The field name without the ``body``/``query`` prefix, e.g. ``quality``."""
        parts = [str(p) for p in self.loc if p not in ("body", "query", "path", "header")]
        return ".".join(parts) if parts else ".".join(str(p) for p in self.loc)


class ValidationError(HTTPStatusError):
    """422: the server rejected a field. ``errors`` holds the server's field messages."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        detail: str,
        url: str,
        errors: Sequence[FieldError] = (),
    ) -> None:
        super().__init__(message, status_code=status_code, detail=detail, url=url)
        self.errors: tuple[FieldError, ...] = tuple(errors)


class ServerError(HTTPStatusError):
    """5xx: the server failed. The body may not be JSON."""

    exit_code = EXIT_SERVER


# --- sessions -------------------------------------------------------------------------------


class NotLoggedInError(ClError):
    """A command needs a token and there is none (no login, no CL_TOKEN)."""

    exit_code = EXIT_AUTH


class SessionExpiredError(ClError):
    """The stored token expired and cannot be refreshed, and no credentials are at hand."""

    exit_code = EXIT_AUTH


# --- jobs -----------------------------------------------------------------------------------


class JobFailedError(ClError):
    """A job ended in ``error`` (or ``failed``). ``job_id`` names the job and ``error_message`` is
    the server's reason (the record's ``error_message``, possibly None); the final record itself
    is ``await compute.get_job(exc.job_id)``."""

    exit_code = EXIT_JOB_FAILED

    def __init__(self, message: str, *, job_id: str, error_message: str | None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.error_message = error_message


class JobTimeoutError(ClError):
    """The job did not reach a terminal state within the timeout. The job itself goes on."""

    exit_code = EXIT_SERVER

    def __init__(self, message: str, *, job_id: str, last_status: str | None) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.last_status = last_status


class NoWorkerError(ClError):
    """No worker offers the task (it is absent from ``/capabilities``)."""

    exit_code = EXIT_SERVER

    def __init__(self, task_type: str) -> None:
        super().__init__(
            f"no worker offers {task_type} — the server has no worker for this task "
            "(check `cl capabilities`)"
        )
        self.task_type = task_type


class BrokerUnavailableError(ClError):
    """The MQTT broker cannot be reached. Waits fall back to polling instead of raising this."""

    exit_code = EXIT_SERVER


class PluginError(ClError):
    """A plugin failed to load (raised only in strict mode) or broke a hook's contract."""

    exit_code = EXIT_USAGE
