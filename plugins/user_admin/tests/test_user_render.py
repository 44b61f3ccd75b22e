"""Rendering of hand-built users (plain text: the captured stdout is not a terminal)."""

from __future__ import annotations

import pytest
from cl_client.cli import Output
from cl_client.models import User
from cl_plugin_user_admin.render import format_created, render_user, render_users

ALICE = User(
    id=2,
    username="alice",
    is_admin=False,
    is_active=True,
    created_at="2026-01-12T09:14:03.512345",
    permissions=["ai_inference_support", "media_store_read"],
)
ROOT = User(id=1, username="admin", is_admin=True, created_at=None, permissions=["*"])


@pytest.mark.parametrize(
    ("created_at", "shown"),
    [
        ("2026-01-12T09:14:03.512345", "2026-01-12 09:14:03"),  # SQLite: no offset
        ("2026-01-12T09:14:03+00:00", "2026-01-12 09:14:03 UTC"),
        ("yesterday", "yesterday"),  # not ISO: shown as the server sent it
        (None, "-"),
        ("", "-"),
    ],
)
def test_created_at_is_parsed_leniently(created_at: str | None, shown: str) -> None:
    assert format_created(created_at) == shown


def test_one_user_as_key_values(capsys: pytest.CaptureFixture[str]) -> None:
    render_user(ALICE, Output(), title="Created user 2")
    assert capsys.readouterr().out.splitlines() == [
        "Created user 2",
        "ID:          2",
        "Username:    alice",
        "Admin:       no",
        "Active:      yes",
        "Permissions: ai_inference_support, media_store_read",
        "Created:     2026-01-12 09:14:03",
    ]


def test_users_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    render_users([ROOT, ALICE], Output())
    assert capsys.readouterr().out.splitlines() == [
        "ID  Username  Admin  Active  Permissions                             Created",
        "1   admin     yes    yes     *                                       -",
        "2   alice     no     yes     ai_inference_support, media_store_read  2026-01-12 09:14:03",
    ]


def test_a_user_without_permissions_says_none(capsys: pytest.CaptureFixture[str]) -> None:
    render_user(User(id=3, username="bare"), Output())
    assert "Permissions: (none)" in capsys.readouterr().out


def test_an_empty_page_is_a_message_not_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    render_users([], Output())
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "no users in this range\n"
