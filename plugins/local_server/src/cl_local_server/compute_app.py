"""The compute service (PROTOCOL §4–§5): job routes, file downloads, capabilities, admin, guest
mode."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from cl_local_server.config import ServerConfig
from cl_local_server.executors import ExecutorRegistry
from cl_local_server.forms import FieldError, FieldReader
from cl_local_server.http_common import EXCEPTION_HANDLERS, ApiError, bearer_token, unauthorized
from cl_local_server.jobs import JobQueue
from cl_local_server.keys import (
    TokenClaims,
    TokenExpiredError,
    TokenInvalidError,
    TokenPayloadError,
    decode_token,
)
from cl_local_server.mqtt import CapabilityTracker
from cl_local_server.task_forms import TASK_FORMS, generic_form

AUTH_ENABLED_KEY = "auth_enabled"
INFERENCE_PERMISSION = "ai_inference_support"
_CHUNK = 1 << 20


def safe_upload_name(filename: str | None) -> str | None:
    """The stored name of an upload, or ``None`` if it is empty or tries to leave ``input/``."""
    if not filename:
        return None
    if "/" in filename or "\\" in filename or "\x00" in filename or filename in (".", ".."):
        return None
    return filename


def _store_upload(upload: UploadFile, target: Path) -> None:
    """Copy the spooled upload to disk chunk by chunk (never the whole file in memory)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    upload.file.seek(0)
    with target.open("wb") as out:
        shutil.copyfileobj(upload.file, out, _CHUNK)


def _tree_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / name).lstat().st_size
    return total


class ComputeService:
    """State of the compute service; :attr:`app` is its ASGI app."""

    def __init__(
        self,
        config: ServerConfig,
        queue: JobQueue,
        registry: ExecutorRegistry,
        capabilities: CapabilityTracker,
    ) -> None:
        self.config = config
        self.queue = queue
        self.registry = registry
        self.capabilities = capabilities
        self._public_key: bytes | None = None
        self.app = Starlette(
            routes=[
                Route("/", self.health, methods=["GET"]),
                Route("/capabilities", self.get_capabilities, methods=["GET"]),
                Route("/jobs/{task_type}", self.submit, methods=["POST"]),
                Route("/jobs/{job_id}", self.get_job, methods=["GET"]),
                Route("/jobs/{job_id}", self.delete_job, methods=["DELETE"]),
                Route("/jobs/{job_id}/files/{file_path:path}", self.download, methods=["GET"]),
                Route("/admin/jobs/storage/size", self.storage_size, methods=["GET"]),
                Route("/admin/jobs/cleanup", self.cleanup, methods=["DELETE"]),
                Route("/admin/config", self.get_config, methods=["GET"]),
                # The later servers' name for the same read (PROTOCOL §4.2, B5).
                Route("/admin/pref", self.get_config, methods=["GET"]),
                Route("/admin/config/guest-mode", self.set_guest_mode, methods=["PUT"]),
            ],
            exception_handlers=EXCEPTION_HANDLERS,  # pyright: ignore[reportArgumentType]
        )

    # -- guest mode and auth -------------------------------------------------------------------

    def guest_mode(self) -> bool:
        if self.config.auth_mode == "none":
            return True
        stored = self.queue.store.get_config(AUTH_ENABLED_KEY)
        # An absent key means guest mode ON (PROTOCOL §4.1).
        return stored is None or stored[0] != "true"

    def _public_key_pem(self) -> bytes:
        if self._public_key is None:
            path = self.config.public_key_path
            try:
                self._public_key = path.read_bytes()
            except FileNotFoundError:
                raise ApiError(
                    500, f"Public key not found at {path}. Is the authentication service running?"
                ) from None
        return self._public_key

    def authorize(self, request: Request, *, admin: bool) -> TokenClaims | None:
        """The decision table of PROTOCOL §4.1. ``None`` means guest mode (headers ignored)."""
        if self.guest_mode():
            return None
        token = bearer_token(request)
        if not token:
            raise unauthorized("Authentication required")
        try:
            claims = decode_token(token, self._public_key_pem())
        except TokenExpiredError:
            raise unauthorized("JWT token has expired") from None
        except TokenPayloadError:
            raise unauthorized("JWT payload is invalid") from None
        except TokenInvalidError:
            raise unauthorized("Could not validate credentials") from None
        if admin:
            if not claims.is_admin:
                raise ApiError(403, "Insufficient permissions. Admin access required")
        elif not claims.is_admin and INFERENCE_PERMISSION not in claims.permissions:
            raise ApiError(403, f"Insufficient permissions. Required: {INFERENCE_PERMISSION}")
        return claims

    # -- public routes ---------------------------------------------------------------------------

    async def health(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "status": "healthy",
                "service": "Task Server",
                "version": "v1",
                "guestMode": "on" if self.guest_mode() else "off",
            }
        )

    async def get_capabilities(self, _request: Request) -> Response:
        return JSONResponse(self.capabilities.snapshot())

    # -- jobs ------------------------------------------------------------------------------------

    async def submit(self, request: Request) -> Response:
        task_type = str(request.path_params["task_type"])
        task_form = TASK_FORMS.get(task_type)
        if task_form is None and task_type not in self.registry:
            # Only GET and DELETE exist on /jobs/{job_id}; FastAPI answers 405 here.
            raise ApiError(405, "Method Not Allowed", {"Allow": "GET, DELETE"})
        # Auth runs before the body is even read: no token and no file → 401, not 422.
        self.authorize(request, admin=False)
        async with request.form() as form:
            reader = FieldReader(form)
            upload = reader.upload("file")
            if upload is not None and safe_upload_name(upload.filename) is None:
                reader.add(
                    FieldError(
                        "value_error",
                        ("body", "file"),
                        "Value error, the uploaded file needs a plain file name"
                        " (no path, not empty)",
                        upload.filename,
                        {"error": {}},
                    )
                )
            filename = safe_upload_name(upload.filename) if upload is not None else None
            if task_form is None:
                task_form = generic_form({k: v for k, v in form.items() if isinstance(v, str)})
            own = task_form(reader, filename or "upload")
            priority = reader.integer("priority", 5, ge=0, le=10)
            reader.raise_if_errors()
            assert upload is not None and filename is not None
            job_id = str(uuid.uuid4())
            job_dir = self.queue.job_dir(job_id)
            await run_in_threadpool(_store_upload, upload, job_dir / "input" / filename)
        params = {"input_path": f"input/{filename}", **own}
        self.queue.create(job_id, task_type, params, priority if priority is not None else 5)
        return JSONResponse({"job_id": job_id, "status": "queued", "task_type": task_type})

    def _job(self, job_id: str) -> dict[str, object]:
        record = self.queue.store.get(job_id)
        if record is None:
            raise ApiError(404, f"Job {job_id} not found")
        return dict(record)

    async def get_job(self, request: Request) -> Response:
        self.authorize(request, admin=False)
        return JSONResponse(self._job(str(request.path_params["job_id"])))

    async def delete_job(self, request: Request) -> Response:
        self.authorize(request, admin=False)
        job_id = str(request.path_params["job_id"])
        self._job(job_id)
        await run_in_threadpool(self.queue.delete, job_id)
        return Response(status_code=204)

    async def download(self, request: Request) -> Response:
        self.authorize(request, admin=False)
        job_id = str(request.path_params["job_id"])
        file_path = str(request.path_params["file_path"])
        self._job(job_id)
        job_dir = self.queue.job_dir(job_id)
        if not job_dir.is_dir():
            raise ApiError(404, f"Job directory not found for job {job_id}")
        if not file_path or "\x00" in file_path:
            raise ApiError(400, f"Invalid file path: {file_path}")
        root = job_dir.resolve()
        try:
            # resolve() follows "..", absolute paths and symlinks; anything outside is refused.
            target = (root / file_path).resolve()
        except (OSError, RuntimeError, ValueError):
            raise ApiError(400, f"Invalid file path: {file_path}") from None
        if not target.is_relative_to(root):
            raise ApiError(403, "Access denied: path traversal detected")
        if not target.exists():
            raise ApiError(404, f"File not found: {file_path}")
        if not target.is_file():
            raise ApiError(400, f"Path is not a file: {file_path}")
        return FileResponse(
            target,
            media_type="application/octet-stream",
            filename=target.name,
            content_disposition_type="attachment",
        )

    # -- admin -----------------------------------------------------------------------------------

    async def storage_size(self, request: Request) -> Response:
        self.authorize(request, admin=True)
        jobs_dir = self.queue.jobs_dir

        def measure() -> tuple[int, int]:
            if not jobs_dir.is_dir():
                return 0, 0
            count = sum(1 for p in jobs_dir.iterdir() if p.is_dir())
            return _tree_size(jobs_dir), count

        total, count = await run_in_threadpool(measure)
        return JSONResponse({"total_size": total, "job_count": count})

    async def cleanup(self, request: Request) -> Response:
        self.authorize(request, admin=True)
        reader = FieldReader(request.query_params, location="query")
        days = reader.integer("days", 7, ge=0)
        reader.raise_if_errors()
        cutoff = time.time() - (days if days is not None else 7) * 86400
        jobs_dir = self.queue.jobs_dir

        def sweep() -> tuple[int, int]:
            # Directories go by modification time and are the only ones counted; rows go by
            # created_at, uncounted (upstream behaviour, PROTOCOL B22).
            deleted = freed = 0
            if jobs_dir.is_dir():
                for job_dir in list(jobs_dir.iterdir()):
                    if job_dir.is_dir() and job_dir.stat().st_mtime < cutoff:
                        size = _tree_size(job_dir)
                        shutil.rmtree(job_dir, ignore_errors=True)
                        deleted += 1
                        freed += size
            self.queue.store.delete_created_before(int(cutoff * 1000))
            return deleted, freed

        deleted, freed = await run_in_threadpool(sweep)
        return JSONResponse({"deleted_count": deleted, "freed_space": freed})

    def _config_body(self) -> dict[str, object]:
        stored = self.queue.store.get_config(AUTH_ENABLED_KEY)
        if stored is None:
            return {"guest_mode": self.guest_mode(), "updated_at": None, "updated_by": None}
        _value, updated_at, updated_by = stored
        return {"guest_mode": self.guest_mode(), "updated_at": updated_at, "updated_by": updated_by}

    async def get_config(self, request: Request) -> Response:
        self.authorize(request, admin=True)
        return JSONResponse(self._config_body())

    async def set_guest_mode(self, request: Request) -> Response:
        claims = self.authorize(request, admin=True)
        reader = FieldReader(await request.form())
        guest = reader.boolean("guest_mode", None, required=True)
        reader.raise_if_errors()
        self.queue.store.set_config(
            AUTH_ENABLED_KEY,
            "false" if guest else "true",
            claims.user_id if claims is not None else None,
        )
        return JSONResponse(
            {"guest_mode": bool(guest), "message": "Configuration updated successfully"}
        )
