"""The whole command tree, every plugin installed: one meaning per short flag, `-h` is always help,
and every help page has the one plain style.

The walk loads each command the way `cl` does (through the root group), so a plugin's command is
checked with the global options `cl` adds to it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from cl_client.cli.app import app
from cl_client.cli.group import LazyCommand
from cl_client.testing import ClRunner
from typer import _click as click
from typer.core import TyperGroup, TyperOption
from typer.main import get_command

pytestmark = pytest.mark.timeout(300)

#: What each short flag of the root means; a command may not give one of them another meaning.
ROOT_SHORT = {"-p": "--profile", "-v": "--verbose", "-q": "--quiet", "-h": "--help"}


def walk() -> list[tuple[list[str], click.Command, click.Context]]:
    """Every command of the tree with its path and a context to read its parameters in."""
    root = get_command(app)
    found: list[tuple[list[str], click.Command, click.Context]] = []

    def visit(cmd: click.Command, ctx: click.Context, path: list[str]) -> None:
        if isinstance(cmd, LazyCommand):
            cmd = cmd.resolve()
        found.append((path, cmd, ctx))
        if isinstance(cmd, TyperGroup):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                visit(sub, click.Context(sub, parent=ctx, info_name=name), [*path, name])

    visit(root, click.Context(root, info_name="cl", help_option_names=["-h", "--help"]), [])
    return found


def _options(cmd: click.Command, ctx: click.Context) -> list[TyperOption]:
    return [p for p in cmd.get_params(ctx) if isinstance(p, TyperOption)]


def _long(option: TyperOption) -> str:
    longs = [o for o in option.opts if o.startswith("--")]
    return longs[0] if longs else option.opts[0]


def test_the_walk_sees_every_plugin() -> None:
    names = {path[0] for path, _, _ in walk() if path}
    for group in (
        "clip-embedding",
        "dino-embedding",
        "exif",
        "face-detection",
        "face-embedding",
        "hash",
        "hls-streaming",
        "image-conversion",
        "media-thumbnail",
        "user",
        "server",
    ):
        assert group in names


def test_no_short_flag_shadows_help() -> None:
    clashes = []
    for path, cmd, ctx in walk():
        for option in _options(cmd, ctx):
            if "-h" in option.opts and _long(option) != "--help":
                clashes.append(f"cl {' '.join(path)}: -h is {_long(option)}")
        help_option = cmd.get_help_option(ctx)
        if cmd.add_help_option and (help_option is None or "-h" not in help_option.opts):
            clashes.append(f"cl {' '.join(path)}: -h is not help")
    assert not clashes, "\n".join(clashes)


def test_each_short_flag_means_one_thing() -> None:
    meanings: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path, cmd, ctx in walk():
        for option in _options(cmd, ctx):
            for opt in [*option.opts, *option.secondary_opts]:
                if len(opt) == 2 and opt.startswith("-"):
                    meanings[opt][_long(option)].append("cl " + " ".join(path))
    clashes = []
    for short, longs in sorted(meanings.items()):
        expected = ROOT_SHORT.get(short)
        wrong = {long: where for long, where in longs.items() if expected and long != expected}
        if len(longs) > 1 or wrong:
            detail = "; ".join(f"{long} in {', '.join(where[:3])}" for long, where in longs.items())
            clashes.append(f"{short}: {detail}")
    assert not clashes, "\n".join(clashes)


def test_every_help_page_has_the_plain_style() -> None:
    cl = ClRunner()
    problems = []
    for path, _, _ in walk():
        result = cl(*path, "--help")
        where = f"cl {' '.join(path)} --help"
        if result.exit_code != 0:
            problems.append(f"{where}: exit {result.exit_code}")
            continue
        page = result.stdout
        if re.search(r"[─│╭╮╰╯]", page):
            problems.append(f"{where}: boxes")
        if types := re.findall(r"<[a-z][^>]*>", page):
            problems.append(f"{where}: Python types {types}")
        if "{" in page.splitlines()[0]:
            problems.append(f"{where}: braces in {page.splitlines()[0]!r}")
    assert not problems, "\n".join(problems)


def _complete(line: str, home: Path) -> list[str]:
    words = line.split(" ")
    env = {
        **os.environ,
        "CL_CONFIG_DIR": str(home / "config"),
        "CL_STATE_DIR": str(home / "state"),
        "_CL_COMPLETE": "complete_bash",
        "COMP_WORDS": line,
        "COMP_CWORD": str(len(words) - 1),
    }
    script = Path(sys.executable).parent / "cl"
    proc = subprocess.run(
        [str(script)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_choice_options_complete_their_values(tmp_path: Path) -> None:
    assert _complete("cl hash compute x.jpg --algorithm ", tmp_path) == ["sha512", "md5"]
    assert _complete("cl image-conversion convert x.jpg --format w", tmp_path) == ["webp"]
    assert _complete("cl hash compute x.jpg -p loc", tmp_path) == ["local"]
