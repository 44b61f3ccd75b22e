"""``cl server …`` and ``cl-local-server …``: run, inspect and reset the local server.

Only Typer is imported at module level; the server itself is imported inside the commands.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Literal

import typer

app = typer.Typer(
    name="server",
    help="A local CL-compatible server: auth + compute + MQTT broker + workers in one process.",
    no_args_is_help=True,
    add_completion=False,
)

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Keys, databases and job files. Default: the user data folder of cl-local-server.",
        envvar="CL_SERVER_DATA_DIR",
    ),
]


def _data_dir(data_dir: Path | None) -> Path:
    if data_dir is not None:
        return data_dir.expanduser()
    from cl_local_server.config import default_data_dir

    return default_data_dir()


@app.command()
def run(
    data_dir: DataDirOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port_auth: Annotated[
        int, typer.Option("--port-auth", help="Auth service port (0 = any free).")
    ] = 8000,
    port_compute: Annotated[
        int, typer.Option("--port-compute", help="Compute service port (0 = any free).")
    ] = 8002,
    port_mqtt: Annotated[
        int, typer.Option("--port-mqtt", help="Embedded MQTT broker port (0 = any free).")
    ] = 1883,
    mqtt_url: Annotated[
        str | None,
        typer.Option(
            "--mqtt-url",
            help="Use this external broker (mqtt://host:port) instead of the embedded one.",
        ),
    ] = None,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="Compute never asks for tokens (like --no-auth upstream)."),
    ] = False,
    guest_mode: Annotated[
        bool,
        typer.Option(
            "--guest-mode",
            help="Start a fresh server in guest mode"
            " (tokens optional until an admin turns it off).",
        ),
    ] = False,
    admin_username: Annotated[
        str, typer.Option(help="Bootstrap admin, created on first start.")
    ] = "admin",
    admin_password: Annotated[
        str | None,
        typer.Option(
            envvar="CL_SERVER_ADMIN_PASSWORD",
            help="Password of the bootstrap admin (better given through the environment). "
            "Default: generated and kept in DATA_DIR/admin-password (mode 0600) until changed.",
            show_default=False,
        ),
    ] = None,
    token_expire_minutes: Annotated[float, typer.Option(help="Lifetime of issued tokens.")] = 30.0,
    workers: Annotated[int, typer.Option(help="Jobs run at the same time.")] = 2,
    heartbeat_seconds: Annotated[float, typer.Option(help="Worker capability heartbeat.")] = 10.0,
    poll_interval: Annotated[float, typer.Option(help="Seconds between queue polls.")] = 0.1,
    retention_days: Annotated[
        float | None,
        typer.Option(
            help="Delete jobs (rows and files) this many days after they finish."
            " Default: keep every job.",
            show_default=False,
        ),
    ] = None,
    executor: Annotated[
        list[str] | None,
        typer.Option(
            "--executor",
            metavar="TYPE=MODULE:FUNCTION",
            help="Run task TYPE with this executor (repeatable; importable from this Python)."
            " Installed packages can also declare executors under the entry-point group"
            " cl_local_server.executors.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            metavar="TASK=PATH.onnx",
            help="Serve TASK (clip_embedding, dino_embedding or face_embedding) with this ONNX"
            " model (repeatable; needs onnxruntime: pip install 'cl-local-server[models]')."
            " The task is offered only while a model is configured; the preprocessing each task"
            " applies is in the cl-local-server README.",
            show_default=False,
        ),
    ] = None,
    compat: Annotated[
        str,
        typer.Option(
            help="'current' publishes every job change; 'legacy' reproduces the January-2026"
            " server "
            "(no progress or error events, capability payloads keyed 'id')."
        ),
    ] = "current",
) -> None:
    """Run the server in the foreground until Ctrl+C."""
    from cl_local_server.config import COMPATS, ServerConfig
    from cl_local_server.executors import ExecutorLoadError, default_registry, load_executor
    from cl_local_server.server import run_forever

    if compat not in COMPATS:
        raise typer.BadParameter(f"must be one of {', '.join(COMPATS)}", param_hint="--compat")
    compat_value: Literal["current", "legacy"] = "legacy" if compat == "legacy" else "current"
    try:
        config = ServerConfig(
            host=host,
            auth_port=port_auth,
            compute_port=port_compute,
            mqtt_port=port_mqtt,
            mqtt_url=mqtt_url,
            data_dir=_data_dir(data_dir),
            auth_mode="none" if no_auth else "jwt",
            guest_mode=guest_mode,
            admin_username=admin_username,
            admin_password=admin_password,
            token_expire_minutes=token_expire_minutes,
            workers=workers,
            heartbeat_seconds=heartbeat_seconds,
            poll_interval=poll_interval,
            compat=compat_value,
            retention_days=retention_days,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    registry = default_registry()
    for spec in executor or []:
        task_type, sep, target = spec.partition("=")
        try:
            if not sep:
                raise ExecutorLoadError(f"{spec!r} is not of the form TYPE=MODULE:FUNCTION")
            registry.register(task_type.strip(), load_executor(target.strip()))
        except ValueError as exc:  # ExecutorLoadError, or a task type the registry refuses
            typer.echo(f"error: --executor: {exc}", err=True)
            raise typer.Exit(2) from None
    if model:
        from cl_local_server.executors.onnx_models import model_executor

        for spec in model:
            task_type, sep, path = spec.partition("=")
            try:
                if not sep or not path.strip():
                    raise ValueError(f"{spec!r} is not of the form TASK=PATH.onnx")
                executor_fn = model_executor(task_type.strip(), Path(path.strip()).expanduser())
                registry.register(task_type.strip(), executor_fn)
            except ValueError as exc:  # ModelError: a missing runtime, file or bad model
                typer.echo(f"error: --model: {exc}", err=True)
                raise typer.Exit(2) from None
    try:
        code = run_forever(config, registry=registry)
    except OSError as exc:  # a busy port or data dir, an unreachable broker: one line, exit 5
        typer.echo(f"error: cannot start the server: {exc.strerror or exc}", err=True)
        raise typer.Exit(5) from None
    raise typer.Exit(code)


def _size(total: int) -> str:
    value = float(total)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def _describe_folder(folder: Path) -> list[tuple[str, str]]:
    if not folder.exists():
        return [("data dir", f"{folder} (not created yet)")]
    keys = folder / "keys" / "public_key.pem"
    jobs = folder / "compute" / "jobs"
    job_dirs = [p for p in jobs.iterdir() if p.is_dir()] if jobs.is_dir() else []
    size = sum(f.stat().st_size for d in job_dirs for f in d.rglob("*") if f.is_file())
    rows = [
        ("data dir", str(folder)),
        ("public key", str(keys) if keys.exists() else "(none yet)"),
        ("jobs", f"{len(job_dirs)} ({_size(size)})"),
    ]
    password = folder / "admin-password"
    if password.is_file():
        rows.append(("admin password", f"generated, in {password} until changed"))
    return rows


@app.command()
def info(data_dir: DataDirOption = None) -> None:
    """Show where the servers keep their data and what is there: the folder of `cl server run`
    (or --data-dir) and the one the `local` profile (`cl -p local …`) uses."""
    from cl_client.errors import ClError

    from cl_local_server import plugin

    try:
        days = plugin.embedded_retention_days()
    except ClError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    local = _describe_folder(plugin.embedded_data_dir())
    local.append(
        (
            "retention",
            f"finished jobs are deleted {days:g} days after they end"
            f" ({plugin.RETENTION_ENV}; folder: {plugin.DATA_DIR_ENV})",
        )
    )
    sections = [
        ("cl server run", _describe_folder(_data_dir(data_dir))),
        ("local profile (cl -p local)", local),
    ]
    width = max(len(key) for _title, rows in sections for key, _value in rows) + 2
    for index, (title, rows) in enumerate(sections):
        if index:
            typer.echo("")
        typer.echo(f"{title}:")
        for key, value in rows:
            typer.echo(f"  {key + ':':<{width}}{value}")


@app.command()
def reset(
    data_dir: DataDirOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete all server data: keys (every issued token stops working), users and jobs.

    Asks first on a terminal (--yes otherwise), and refuses while a server runs on the folder."""
    import fcntl
    import os
    import sys

    from cl_local_server.server import LOCK_FILE

    folder = _data_dir(data_dir)
    if not folder.exists():
        typer.echo(f"nothing to delete: {folder} does not exist")
        return
    if not yes:
        if not sys.stdin.isatty():
            typer.echo(
                f"error: refusing to delete {folder}: no terminal to ask on — pass --yes",
                err=True,
            )
            raise typer.Exit(2)
        if not typer.confirm(f"Delete {folder} and everything in it?", default=False, err=True):
            typer.echo("error: cancelled: nothing was deleted", err=True)
            raise typer.Exit(130)
    # The server's own lock: held while one runs on the folder, and by us while deleting it, so
    # no server can start on a half-deleted folder.
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            typer.echo(
                f"error: refusing to delete {folder}: a local server is running on it — stop "
                "it first",
                err=True,
            )
            raise typer.Exit(2) from None
        shutil.rmtree(folder)
    finally:
        os.close(fd)
    typer.echo(f"deleted {folder}")


def main() -> None:
    app()
