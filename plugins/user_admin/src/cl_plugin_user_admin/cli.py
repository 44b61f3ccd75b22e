"""``cl user …``: the auth service's user administration (admin only).

Only typer and ``cl_client.cli`` load with this module; the client and rendering modules are
imported inside the commands so that ``cl user --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from cl_client.cli import Output, get_output, json_option, run_async
from cl_client.errors import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from cl_client.client import Client
    from cl_client.models import User

    from cl_plugin_user_admin.client import UserAdminClient

# Kept literal here (help is built at import time); a test checks it against KNOWN_PERMISSIONS.
REAL_PERMISSIONS_TEXT = (
    "ai_inference_support (compute jobs), media_store_read and media_store_write (media store)"
)

SERVER_LIMITS = (
    "What the server does not enforce: deactivating a user does not revoke access (inactive "
    "users can still log in and use their tokens); a deleted or demoted user keeps compute "
    "access until their current token expires (30 minutes by default); permissions cannot be "
    "cleared to an empty list; permission names are not checked — only "
    + REAL_PERMISSIONS_TEXT
    + " mean anything, and '*' is not a wildcard."
)

app = typer.Typer(
    name="user",
    help="Manage the auth service's users. Every command needs a login as an admin.",
    epilog=SERVER_LIMITS,
    no_args_is_help=True,
)

UserRef = Annotated[
    str,
    typer.Argument(
        metavar="USER", help="The user's numeric id, or their username.", show_default=False
    ),
]
JsonOutput = Annotated[bool, json_option()]
AllowSelf = Annotated[
    bool,
    typer.Option(
        "--allow-self",
        help="Allow acting on your own account (removing your admin rights, deactivating or "
        "deleting yourself), which can lock every admin out.",
    ),
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input instead of prompting.",
    ),
]


def _complete_permission(incomplete: str) -> list[str]:
    from cl_plugin_user_admin.client import KNOWN_PERMISSIONS

    return [name for name in KNOWN_PERMISSIONS if name.startswith(incomplete)]


Permissions = Annotated[
    list[str] | None,
    typer.Option(
        "--permission",
        metavar="NAME",
        autocompletion=_complete_permission,
        help="A permission to grant; repeat the option or separate names with commas. "
        "The server checks only " + REAL_PERMISSIONS_TEXT + "; other names are accepted "
        "but grant nothing.",
    ),
]


@app.command(epilog=SERVER_LIMITS)
def create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Name of the new user (must be unique).")],
    password_stdin: PasswordStdin = False,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an admin.")] = False,
    active: Annotated[
        bool,
        typer.Option("--active/--inactive", help="Initial active flag (stored, not enforced)."),
    ] = True,
    permission: Permissions = None,
    json_output: JsonOutput = False,
) -> None:
    """Create a user. The password is asked for twice (not echoed) or read with --password-stdin."""
    output = get_output(ctx)
    permissions = _split_permissions(permission) or []

    async def go(client: Client) -> User:
        from cl_plugin_user_admin.client import check_permissions, check_username

        users = _admin_client(client)
        check_username(username)
        _warn_unknown_permissions(output, check_permissions(permissions))
        password = _read_new_password(password_stdin, f"Password for {username.strip()}")
        return await users.create_user(
            username, password, is_admin=admin, is_active=active, permissions=permissions
        )

    user = run_async(ctx, go)
    _show_user(output, user, json_output, title=f"created user {user.id}")


@app.command("list")
def list_users(
    ctx: typer.Context,
    skip: Annotated[int, typer.Option(min=0, help="Users to skip (for paging).")] = 0,
    limit: Annotated[int, typer.Option(min=1, help="Most users to list.")] = 100,
    json_output: JsonOutput = False,
) -> None:
    """List users, ordered by id."""
    output = get_output(ctx)

    async def go(client: Client) -> list[User]:
        return await _admin_client(client).list_users(skip=skip, limit=limit)

    users = run_async(ctx, go)
    if _json_mode(output, json_output):
        output.json([user.to_dict() for user in users])
        return
    from cl_plugin_user_admin.render import render_users

    render_users(users, output)


@app.command()
def get(ctx: typer.Context, user: UserRef, json_output: JsonOutput = False) -> None:
    """Show one user, by id or username."""
    output = get_output(ctx)

    async def go(client: Client) -> User:
        return await _admin_client(client).find_user(user)

    _show_user(output, run_async(ctx, go), json_output, title=None)


@app.command(epilog=SERVER_LIMITS)
def update(
    ctx: typer.Context,
    user_ref: UserRef,
    new_password: Annotated[
        bool,
        typer.Option("--new-password", help="Set a new password: asked for twice, never echoed."),
    ] = False,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Set a new password, read from the first line of standard input.",
        ),
    ] = False,
    permission: Permissions = None,
    admin: Annotated[
        bool | None,
        typer.Option("--admin/--no-admin", help="Grant or remove admin rights."),
    ] = None,
    active: Annotated[
        bool | None,
        typer.Option(
            "--active/--inactive",
            help="Set the active flag. The server stores it but does not enforce it.",
        ),
    ] = None,
    allow_self: AllowSelf = False,
    json_output: JsonOutput = False,
) -> None:
    """Change a user. --permission replaces the whole list; what is not given stays as it is."""
    output = get_output(ctx)
    permissions = _split_permissions(permission)

    async def go(client: Client) -> User:
        from cl_client.errors import InvalidInputError

        from cl_plugin_user_admin.client import check_update_permissions

        users = _admin_client(client)
        if new_password and password_stdin:
            raise InvalidInputError("give either --new-password or --password-stdin, not both")
        if permissions is not None:
            _warn_unknown_permissions(output, check_update_permissions(permissions))
        target = await users.find_user(user_ref)
        # With nothing to change the library refuses before anything is sent (no prompt needed).
        password = (
            _read_new_password(password_stdin, f"New password for user {target.id}")
            if new_password or password_stdin
            else None
        )
        return await users.update_user(
            target.id,
            password=password,
            permissions=permissions,
            is_admin=admin,
            is_active=active,
            allow_self=allow_self,
        )

    user = run_async(ctx, go)
    _show_user(output, user, json_output, title=f"updated user {user.id}")
    if active is False:
        output.info(
            f"note: the server does not enforce the active flag — {user.username} can still "
            "log in and use their tokens"
        )
    if admin is False or permissions is not None:
        output.info(
            "note: tokens already issued keep their old rights until they expire "
            "(30 minutes by default)"
        )


@app.command(epilog=SERVER_LIMITS)
def delete(
    ctx: typer.Context,
    user_ref: UserRef,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")] = False,
    allow_self: AllowSelf = False,
    json_output: JsonOutput = False,
) -> None:
    """Delete a user (asks first unless --yes). Their tokens work on compute until they expire."""
    output = get_output(ctx)

    async def go(client: Client) -> tuple[User, bool]:
        users = _admin_client(client)
        if not yes:
            _require_terminal(
                f"refusing to delete user {user_ref} without confirmation: "
                "no terminal to ask on — pass --yes"
            )
        user = await users.find_user(user_ref)
        if not yes and not _confirm(f"Delete user {user.id} ({user.username})?"):
            return user, False
        await users.delete_user(user.id, allow_self=allow_self)
        return user, True

    user, deleted = run_async(ctx, go)
    if not deleted:
        output.error(f"cancelled: user {user.id} ({user.username}) was not deleted")
        raise typer.Exit(EXIT_INTERRUPTED)
    if _json_mode(output, json_output):
        output.json({"id": user.id, "username": user.username, "deleted": deleted})
    else:
        output.result(f"deleted user {user.id} ({user.username})")
    if deleted:
        output.info(
            f"note: tokens already issued to {user.username} keep working on the compute "
            "service until they expire (30 minutes by default)"
        )


# --- helpers ----------------------------------------------------------------------------------


def _admin_client(client: Client) -> UserAdminClient:
    from cl_plugin_user_admin.client import UserAdminClient

    return UserAdminClient.for_client(client)


def _json_mode(output: Output, json_output: bool) -> bool:
    return json_output or output.json_mode


def _show_user(output: Output, user: User, json_output: bool, *, title: str | None) -> None:
    if _json_mode(output, json_output):
        output.json(user.to_dict())
        return
    from cl_plugin_user_admin.render import render_user

    render_user(user, output, title=title)


def _split_permissions(values: list[str] | None) -> list[str] | None:
    """``-p a,b -p c`` → ``[a, b, c]``; None when the option was not given at all."""
    if not values:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def _warn_unknown_permissions(output: Output, permissions: list[str]) -> None:
    from cl_plugin_user_admin.client import unknown_permissions

    for name in unknown_permissions(permissions):
        output.warn(
            f"permission {name!r} is not checked by any server (it grants nothing); "
            f"the real ones are {REAL_PERMISSIONS_TEXT}"
        )


def _require_terminal(message: str) -> None:
    import sys

    from cl_client.errors import InvalidInputError

    if not sys.stdin.isatty():
        raise InvalidInputError(message)


def _confirm(question: str) -> bool:
    try:
        return typer.confirm(question, default=False, err=True)
    except typer.Abort:  # end of input at the prompt
        return False


def _read_new_password(from_stdin: bool, label: str) -> str:
    """A new password from stdin's first line, or asked for twice on the terminal without echo.

    Never from the command line: process arguments are visible to every local user.
    """
    import sys

    from cl_client.errors import InvalidInputError

    if from_stdin and not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidInputError("no password on standard input (its first line is read)")
        return password
    _require_terminal("no terminal to ask for the password on: pipe it in with --password-stdin")
    return _prompt_password_twice(label)


def _prompt_password_twice(label: str, attempts: int = 3) -> str:
    import getpass
    import sys

    from cl_client.errors import InvalidInputError

    for _ in range(attempts):
        try:
            first = getpass.getpass(f"{label}: ")
            if not first:
                print("the password must not be empty", file=sys.stderr)
                continue
            if getpass.getpass("Repeat it: ") == first:
                return first
        except EOFError:
            raise InvalidInputError("no password given") from None
        print("the two passwords differ, try again", file=sys.stderr)
    raise InvalidInputError(f"no password set after {attempts} attempts")
