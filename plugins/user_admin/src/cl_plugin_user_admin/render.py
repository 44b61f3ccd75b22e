"""Human presentation of users: one user as key/value lines, several as a table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cl_client.cli import Output
    from cl_client.models import User

USER_COLUMNS = ("ID", "Username", "Admin", "Active", "Permissions", "Created")


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def format_permissions(permissions: Sequence[str]) -> str:
    return ", ".join(permissions) if permissions else "(none)"


def format_created(created_at: str | None) -> str:
    """``created_at`` to the second. SQLite drops the time zone (§3.1), so parse leniently and show
    the server's string unchanged when it is not ISO-8601."""
    if not created_at:
        return "-"
    try:
        moment = datetime.fromisoformat(created_at)
    except ValueError:
        return created_at
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text} {moment.tzname()}" if moment.tzinfo is not None else text


def user_row(user: User) -> list[object]:
    return [
        user.id,
        user.username,
        yes_no(user.is_admin),
        yes_no(user.is_active),
        format_permissions(user.permissions),
        format_created(user.created_at),
    ]


def render_user(user: User, output: Output, *, title: str | None = None) -> None:
    values = user_row(user)
    output.key_values(list(zip(USER_COLUMNS, values, strict=True)), title=title)


def render_users(users: Sequence[User], output: Output) -> None:
    if not users:
        output.info("no users in this range")
        return
    output.table(USER_COLUMNS, [user_row(user) for user in users])
