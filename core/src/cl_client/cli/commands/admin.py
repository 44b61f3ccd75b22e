"""``cl admin``: the compute server's guest mode, job storage and cleanup (admins only)."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from cl_client.cli import format_bytes, get_output, json_option, run_async
from cl_client.cli.output import Output

if TYPE_CHECKING:
    from cl_client.client import Client
    from cl_client.models import CleanupResult, GuestConfig, GuestModeUpdate, StorageSize

app = typer.Typer(
    help=(
        "Administration of the compute server (needs an admin login, unless the server is in "
        "guest mode, where these routes are open to anyone)."
    ),
    no_args_is_help=True,
)


class OnOff(StrEnum):
    on = "on"
    off = "off"


@app.command("guest-mode")
def guest_mode(
    ctx: typer.Context,
    state: Annotated[
        OnOff | None,
        typer.Argument(
            help="on: jobs need no login; off: jobs need a login. Omit to show the setting.",
            show_default=False,
        ),
    ] = None,
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Show or switch the compute server's guest mode."""
    out = get_output(ctx)

    async def show(client: Client) -> GuestConfig:
        return await client.compute.guest_mode()

    async def switch(client: Client) -> GuestModeUpdate:
        return await client.compute.set_guest_mode(state == OnOff.on)

    if state is None:
        _show_guest_mode(out, run_async(ctx, show))
    else:
        _switched(out, run_async(ctx, switch))


def _show_guest_mode(out: Output, config: GuestConfig) -> None:
    if out.json_mode:
        out.json(config.to_dict())
        return
    pairs: list[tuple[str, object]] = [
        ("guest mode", "on (jobs need no login)" if config.guest_mode else "off (login needed)")
    ]
    if config.updated_at is not None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(config.updated_at / 1000))
        pairs.append(("changed", stamp))
    if config.updated_by is not None:
        pairs.append(("changed by user id", config.updated_by))
    out.key_values(pairs)


def _switched(out: Output, update: GuestModeUpdate) -> None:
    if out.json_mode:
        out.json(update.to_dict())
        return
    out.success(f"guest mode is now {'on' if update.guest_mode else 'off'}")


@app.command("storage")
def storage(ctx: typer.Context, json_output: Annotated[bool, json_option()] = False) -> None:
    """Show the space used by job files on the server."""
    out = get_output(ctx)

    async def go(client: Client) -> StorageSize:
        return await client.compute.storage_size()

    _show_storage(out, run_async(ctx, go))


def _show_storage(out: Output, size: StorageSize) -> None:
    if out.json_mode:
        out.json(size.to_dict())
        return
    out.key_values(
        [
            ("jobs", size.job_count),
            ("size", f"{format_bytes(size.total_size)} ({size.total_size} bytes)"),
        ]
    )


@app.command("cleanup")
def cleanup(
    ctx: typer.Context,
    days: Annotated[
        int,
        typer.Option(
            "--days",
            help="Delete the jobs (and their files) older than this many days.",
            min=0,
            metavar="N",
        ),
    ],
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Delete without asking (needed off a terminal).")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show how many jobs the server holds; delete nothing."),
    ] = False,
    json_output: Annotated[bool, json_option()] = False,
) -> None:
    """Delete old jobs on the server (asks first on a terminal; --yes otherwise)."""
    out = get_output(ctx)

    async def go(client: Client) -> tuple[StorageSize, CleanupResult | None]:
        from cl_client.config import mask_url

        # The server has no job listing and cannot count in advance: its total is shown.
        size = await client.compute.storage_size()
        if dry_run:
            return size, None
        where = mask_url(client.settings.compute_url)
        question = (
            f"Delete every job older than {days} day(s) on {where}? The server holds "
            f"{size.job_count} job(s), {format_bytes(size.total_size)} in all."
        )
        if not out.confirm(question, yes=yes, refusal=f"refusing to delete jobs on {where}"):
            return size, None
        return size, await client.compute.cleanup(days)

    size, result = run_async(ctx, go)
    _cleaned(out, size, result, days, dry_run=dry_run)


def _cleaned(
    out: Output, size: StorageSize, result: CleanupResult | None, days: int, *, dry_run: bool
) -> None:
    if out.json_mode:
        deleted = result.to_dict() if result is not None else {"deleted_count": 0, "freed_space": 0}
        out.json(
            {
                **deleted,
                "days": days,
                "dry_run": dry_run,
                "cancelled": result is None and not dry_run,
                "storage_before": size.to_dict(),
            }
        )
        return
    if dry_run:
        out.result(
            f"would delete the jobs older than {days} day(s); the server cannot count them in "
            f"advance — it holds {size.job_count} job(s), {format_bytes(size.total_size)} in all"
        )
        return
    if result is None:
        from cl_client.errors import EXIT_INTERRUPTED

        out.error("cancelled: no job was deleted")
        raise typer.Exit(EXIT_INTERRUPTED)
    out.success(
        f"deleted {result.deleted_count} job folder(s) older than {days} day(s), freed "
        f"{format_bytes(result.freed_space)}"
    )
