"""``cl user …`` end to end against the local server in JWT mode (and once in no-auth mode)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from user_admin_support import Identity, MakeIdentity, error_lines, flat, user_named

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ServerFactory
    from cl_local_server.server import LocalServer

pytestmark = pytest.mark.timeout(60)

ADMIN_NEEDED = "error: permission denied: admin rights needed"


def create(admin: Identity, username: str, password: str, *options: str) -> dict[str, object]:
    user = admin.json("user", "create", username, "--password-stdin", *options, input=password)
    assert isinstance(user, dict)
    return user  # pyright: ignore[reportUnknownVariableType]


def test_create_list_get_update_login_delete(
    cl_server_jwt: LocalServer, admin: Identity, identity: MakeIdentity
) -> None:
    created = create(admin, "alice", "first-pass", "--permission", "ai_inference_support")
    assert created["username"] == "alice"
    assert created["is_admin"] is False
    assert created["is_active"] is True
    assert created["permissions"] == ["ai_inference_support"]
    alice_id = created["id"]
    assert isinstance(alice_id, int)

    taken = admin("user", "create", "alice", "--password-stdin", input="other\n")
    assert taken.exit_code == 2
    assert error_lines(taken) == [
        "error: username 'alice' is already taken — choose another name, "
        "or change the existing user with `cl user update`"
    ]

    listed = admin.json("user", "list")
    assert user_named(listed, "alice") == created
    assert user_named(listed, "admin")["is_admin"] is True
    table = admin("user", "list")
    assert table.exit_code == 0
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["ID", "Username", "Admin", "Active", "Permissions", "Created"]
    assert any(
        row.split()[:5] == [str(alice_id), "alice", "no", "yes", "ai_inference_support"]
        for row in rows
    )
    assert admin.json("user", "list", "--skip", "1", "--limit", "1") == [created]

    assert admin.json("user", "get", str(alice_id)) == created
    assert admin.json("--json", "user", "get", str(alice_id)) == created  # global --json too
    shown = admin("user", "get", str(alice_id))
    assert shown.exit_code == 0
    assert "Username:    alice" in shown.stdout
    assert "Permissions: ai_inference_support" in shown.stdout

    updated = admin(
        "user",
        "update",
        str(alice_id),
        "--password-stdin",
        "--permission",
        "ai_inference_support,media_store_read",
        "--admin",
        "--inactive",
        "--json",
        input="second-pass\n",
    )
    assert updated.exit_code == 0, updated.stderr
    record = json.loads(updated.stdout)
    assert record["permissions"] == ["ai_inference_support", "media_store_read"]
    assert record["is_admin"] is True
    assert record["is_active"] is False
    assert "does not enforce the active flag" in updated.stderr
    assert admin.json("user", "get", str(alice_id)) == record

    # Only the changed fields change: demoting leaves the permissions and the password alone.
    demoted = admin.json("user", "update", str(alice_id), "--no-admin", "--active")
    assert isinstance(demoted, dict)
    assert demoted["is_admin"] is False
    assert demoted["is_active"] is True
    assert demoted["permissions"] == ["ai_inference_support", "media_store_read"]

    alice = identity(cl_server_jwt, "alice")
    assert alice.login("alice", "first-pass").exit_code == 3
    assert alice.login("alice", "second-pass").exit_code == 0
    whoami = alice.json("whoami")
    assert "alice" in json.dumps(whoami)

    deleted = admin("user", "delete", str(alice_id), "--yes")
    assert deleted.exit_code == 0, deleted.stderr
    assert deleted.stdout.strip() == f"deleted user {alice_id} (alice)"
    assert "keep working on the compute service until they expire" in deleted.stderr

    gone = admin("user", "get", str(alice_id))
    assert gone.exit_code == 4
    assert error_lines(gone) == [f"error: user {alice_id} not found"]
    assert "alice" not in json.dumps(admin.json("user", "list"))
    assert alice.login("alice", "second-pass").exit_code == 3


def test_demoting_deactivating_or_deleting_yourself_needs_allow_self(
    cl_server_jwt: LocalServer, admin: Identity, identity: MakeIdentity
) -> None:
    me = user_named(admin.json("user", "list"), "admin")
    for args in (["--no-admin"], ["--inactive"], ["--no-admin", "--inactive"]):
        refused = admin("user", "update", str(me["id"]), *args)
        assert refused.exit_code == 2, refused.output
        [line] = error_lines(refused)
        assert "refusing to" in line and "is admin, the user logged in" in line
        assert "--allow-self" in line
    refused = admin("user", "delete", str(me["id"]), "--yes")
    assert refused.exit_code == 2
    assert "refusing to delete your own account" in error_lines(refused)[0]
    after = admin.json("user", "get", str(me["id"]))
    assert after == me  # nothing changed: still the only admin, still active
    # another user is no reason to refuse, and with the flag it is done
    carol_id = create(admin, "carol", "carol-pass", "--admin")["id"]
    carol = identity(cl_server_jwt, "carol")
    assert carol.login("carol", "carol-pass").exit_code == 0
    demoted = carol.json("user", "update", str(carol_id), "--no-admin", "--allow-self")
    assert isinstance(demoted, dict) and demoted["is_admin"] is False
    assert admin("user", "update", str(carol_id), "--inactive").exit_code == 0
    assert admin("user", "delete", str(carol_id), "--yes").exit_code == 0


def test_an_ordinary_user_is_told_admin_rights_are_needed(
    cl_server_jwt: LocalServer, admin: Identity, identity: MakeIdentity
) -> None:
    bob_id = create(admin, "bob", "bob-pass", "--permission", "ai_inference_support")["id"]
    bob = identity(cl_server_jwt, "bob")
    assert bob.login("bob", "bob-pass").exit_code == 0

    attempts = [
        bob("user", "list"),
        bob("user", "get", str(bob_id)),
        bob("user", "create", "mallory", "--password-stdin", input="x\n"),
        bob("user", "update", str(bob_id), "--admin"),
        bob("user", "delete", str(bob_id), "--yes"),
        bob("user", "list", "--json"),
    ]
    for result in attempts:
        assert result.exit_code == 3
        assert error_lines(result) == [ADMIN_NEEDED]
        assert result.stdout == ""
    assert user_named(admin.json("user", "list"), "bob")["is_admin"] is False


def test_a_missing_user_is_exit_4(admin: Identity) -> None:
    for args in (
        ["get", "9999"],
        ["update", "9999", "--inactive"],
        ["delete", "9999", "--yes"],
    ):
        result = admin("user", *args)
        assert result.exit_code == 4, args
        assert error_lines(result) == ["error: user 9999 not found"]


def test_without_a_login_the_commands_say_to_log_in(
    cl_server_jwt: LocalServer, identity: MakeIdentity
) -> None:
    nobody = identity(cl_server_jwt, "nobody")
    for args in (["list"], ["get", "1"], ["create", "eve"], ["delete", "1"]):
        result = nobody("user", *args)
        assert result.exit_code == 3, args
        assert error_lines(result) == [
            "error: user administration needs a login as an admin: run `cl login` "
            "(profile 'default')"
        ]


def test_a_profile_without_auth_explains_there_is_nothing_to_manage(
    cl_server: LocalServer, identity: MakeIdentity
) -> None:
    guest = identity(cl_server, "guest")
    for args in (
        ["list"],
        ["get", "1"],
        ["create", "eve"],
        ["update", "1", "--admin"],
        ["delete", "1"],
    ):
        result = guest("user", *args)
        assert result.exit_code == 2, args
        assert error_lines(result) == [
            "error: user administration needs a login: profile 'default' uses no auth "
            "(auth_mode none, from env CL_NO_AUTH), so the auth service has no user to act as — "
            "use a profile with auth_mode jwt (without --no-auth / CL_NO_AUTH) and `cl login` "
            "as an admin"
        ]


def test_bad_input_is_refused_before_anything_changes(admin: Identity) -> None:
    user_id = str(create(admin, "carol", "carol-pass", "--permission", "media_store_read")["id"])

    def refused(*args: str, input: str | None = None) -> str:
        result = admin("user", *args, input=input)
        assert result.exit_code == 2, (args, result.stderr)
        lines = error_lines(result)
        assert len(lines) == 1, lines
        return lines[0]

    assert "nothing to update" in refused("update", user_id)
    assert "cannot clear every permission" in refused("update", user_id, "--permission", "")
    assert "'none'" in refused("update", user_id, "--permission", " , ")
    assert "not both" in refused("update", user_id, "--new-password", "--password-stdin")
    assert "pipe it in with --password-stdin" in refused("update", user_id, "--new-password")
    assert "pipe it in with --password-stdin" in refused("create", "dave")
    assert "no password on standard input" in refused(
        "create", "dave", "--password-stdin", input="\n"
    )
    assert "username must not be empty" in refused("create", " ", "--password-stdin", input="p\n")
    assert refused("delete", user_id) == (
        f"error: refusing to delete user {user_id} without confirmation: no terminal to ask on "
        "— pass --yes"
    )
    assert (
        "error: --limit: 0 is below the minimum 1" in admin("user", "list", "--limit", "0").stderr
    )

    unchanged = admin.json("user", "get", user_id)
    assert isinstance(unchanged, dict)
    assert unchanged["permissions"] == ["media_store_read"]
    assert "dave" not in json.dumps(admin.json("user", "list"))


def test_unknown_permission_names_are_sent_with_a_warning(admin: Identity) -> None:
    result = admin(
        "user",
        "create",
        "erin",
        "--password-stdin",
        "--permission",
        "read:jobs",
        "--permission",
        "ai_inference_support",
        "--json",
        input="erin-pass\n",
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["permissions"] == ["read:jobs", "ai_inference_support"]
    warnings = [line for line in error_lines(result) if line.startswith("warning:")]
    assert warnings == [
        "warning: permission 'read:jobs' is not checked by any server (it grants nothing); the "
        "real ones are ai_inference_support (compute jobs), media_store_read and "
        "media_store_write (media store)"
    ]


def test_commands_use_and_refresh_the_stored_session(
    cl_server_factory: ServerFactory, identity: MakeIdentity
) -> None:
    # Tokens that live 30 s are always inside the client's 60 s refresh margin: every command
    # must refresh before it sends, and store the new token.
    server = cl_server_factory.start(auth_mode="jwt", token_expire_minutes=0.5)
    admin = identity(server, "admin")
    assert server.info.admin_password is not None
    assert admin.login(server.info.admin_username, server.info.admin_password).exit_code == 0
    from cl_client.auth import TokenStore

    token_file = next(identity_state(admin).glob("tokens/*.json"))
    store = TokenStore(token_file.parent)
    before = store.load(token_file.stem, server.info.auth_url)
    assert before is not None

    assert user_named(admin.json("user", "list"), "admin")["is_admin"] is True
    after = store.load(token_file.stem, server.info.auth_url)
    assert after is not None and after != before


def identity_state(who: Identity) -> Path:
    return Path(who.env["CL_STATE_DIR"])


def test_help_says_what_the_server_does_not_enforce(admin: Identity) -> None:
    from cl_plugin_user_admin.client import KNOWN_PERMISSIONS

    for command in ([], ["create"], ["update"], ["delete"]):
        result = admin("user", *command, "--help")
        assert result.exit_code == 0
        text = flat(result.stdout)
        assert "deactivating a user does not revoke access" in text, command
        assert "keeps compute access until their current token expires" in text
        assert "permissions cannot be cleared to an empty list" in text
        assert "permission names are not checked" in text
        for name in KNOWN_PERMISSIONS:
            assert name in text


def test_a_user_by_name_where_an_id_is_asked(admin: Identity) -> None:
    erin = create(admin, "erin", "erin-pass", "--permission", "media_store_read")
    assert admin.json("user", "get", "erin") == erin
    updated = admin.json("user", "update", "erin", "--permission", "ai_inference_support")
    assert isinstance(updated, dict)
    assert updated["id"] == erin["id"]
    assert updated["permissions"] == ["ai_inference_support"]
    missing = admin("user", "get", "nobody-here")
    assert missing.exit_code == 4
    assert error_lines(missing) == ["error: no user named 'nobody-here' (see `cl user list`)"]
    gone = admin("user", "delete", "erin", "--yes")
    assert gone.exit_code == 0, gone.stderr
    assert gone.stdout == f"deleted user {erin['id']} (erin)\n"
    assert admin("user", "get", str(erin["id"])).exit_code == 4


def test_results_are_lower_case_and_p_is_the_profile(admin: Identity) -> None:
    created = admin("user", "create", "fred", "--password-stdin", input="fred-pass\n")
    assert created.exit_code == 0, created.stderr
    assert created.stdout.splitlines()[0].startswith("created user ")
    # -p is --profile everywhere, so it is not --permission here
    wrong = admin("user", "create", "gina", "--password-stdin", "-p", "nope", input="x\n")
    assert wrong.exit_code == 2
    assert "profile" in wrong.stderr
    assert "gina" not in json.dumps(admin.json("user", "list"))
    page = admin("user", "create", "--help").stdout
    assert "--permission NAME" in page
    assert "-p, --permission" not in page
