"""Installing plugins into the environment ``cl`` runs from, with the tool that made it.

A plugin is checked before it is installed: its metadata is fetched first (the plugin alone,
without dependencies, into a temporary folder) and its ``cl-client`` requirement must admit the
running core. The install itself pins ``cl-client`` to the running version, so installing or
upgrading a plugin never changes the core under it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path
from typing import Final, Literal

from cl_client.errors import ClError, InvalidInputError

CORE: Final = "cl-client"

Tool = Literal["uv", "pip"]


class InstallError(ClError):
    """The installer failed (the package does not exist, cannot be built, the network is down)."""


@dataclass(frozen=True)
class Installer:
    """How to change the packages of the environment of ``python``."""

    tool: Tool
    python: str
    uv: str | None = None

    def command(self, *args: str) -> list[str]:
        if self.tool == "uv" and self.uv is not None:
            return [self.uv, "pip", *args, "--python", self.python]
        return [self.python, "-m", "pip", *args]

    def install_args(self) -> tuple[str, ...]:
        return ("install",) if self.tool == "uv" else ("install", "--disable-pip-version-check")

    def uninstall_args(self) -> tuple[str, ...]:
        return ("uninstall",) if self.tool == "uv" else ("uninstall", "-y")


def _made_by_uv(prefix: Path) -> bool:
    try:
        text = (prefix / "pyvenv.cfg").read_text(encoding="utf-8")
    except OSError:
        return False
    return any(line.split("=", 1)[0].strip() == "uv" for line in text.splitlines())


def _has_pip() -> bool:
    import importlib.util

    return importlib.util.find_spec("pip") is not None


def find_installer() -> Installer:
    """uv for an environment uv made (or one without pip), when uv is found; pip otherwise."""
    python = sys.executable
    uv = shutil.which("uv") or _beside_python("uv")
    if uv is not None and (_made_by_uv(Path(sys.prefix)) or not _has_pip()):
        return Installer("uv", python, uv)
    if _has_pip():
        return Installer("pip", python)
    if uv is not None:
        return Installer("uv", python, uv)
    raise InstallError(
        f"neither uv nor pip is available to install into {sys.prefix}: install uv "
        "(https://docs.astral.sh/uv/) or pip"
    )


def _beside_python(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


def core_version() -> str:
    from cl_client.plugins import distribution_version

    version = distribution_version(CORE)
    if version is None:
        raise InstallError(f"{CORE} itself is not installed as a distribution here")
    return version


def spec_of(target: str) -> str:
    """What to hand the installer: an existing path as an absolute path, anything else as is."""
    path = Path(target).expanduser()
    if path.exists():
        return str(path.resolve())
    if target.startswith((".", "/", "~")):
        raise InvalidInputError(f"no such plugin folder or file: {target}")
    return target


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        last = next(
            (line for line in reversed(lines) if "error" in line.lower()),
            lines[-1] if lines else "",
        )
        raise InstallError(f"{what} failed: {last or f'exit status {done.returncode}'}")


@dataclass(frozen=True)
class PackageInfo:
    name: str
    version: str
    #: The ``cl-client`` requirement's version range ("" when any version is admitted).
    core_range: str | None


def inspect_package(installer: Installer, spec: str) -> PackageInfo:
    """Name, version and cl-client range of ``spec``, from its metadata (installed alone into a
    temporary folder, never into the environment)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    with tempfile.TemporaryDirectory(prefix="cl-plugin-") as tmp:
        _run(
            installer.command(*installer.install_args(), "--no-deps", "--target", tmp, spec),
            f"fetching {spec}",
        )
        infos = sorted(Path(tmp).glob("*.dist-info"))
        if not infos:
            raise InstallError(f"{spec} did not install a Python distribution")
        meta = Parser().parsestr((infos[0] / "METADATA").read_text(encoding="utf-8"))
    core_range: str | None = None
    for line in meta.get_all("Requires-Dist") or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) == CORE and (req.marker is None or req.marker.evaluate()):
            core_range = str(req.specifier)
    return PackageInfo(str(meta["Name"]), str(meta["Version"]), core_range)


def check_compatible(info: PackageInfo, core: str) -> None:
    """InvalidInputError unless ``info`` requires cl-client and its range admits ``core``."""
    from packaging.specifiers import SpecifierSet

    if info.core_range is None:
        raise InvalidInputError(
            f"{info.name} {info.version} does not depend on {CORE}: it is not a cl plugin"
        )
    if not SpecifierSet(info.core_range).contains(core, prereleases=True):
        raise InvalidInputError(
            f"{info.name} {info.version} needs {CORE}{info.core_range}, but this cl is "
            f"{CORE} {core}; install a version of the plugin made for {CORE} {core}"
        )


def install(installer: Installer, spec: str, *, upgrade: bool = False) -> None:
    """Install ``spec`` with ``cl-client`` pinned to the running version."""
    with tempfile.TemporaryDirectory(prefix="cl-plugin-") as tmp:
        pin = Path(tmp, "constraints.txt")
        pin.write_text(f"{CORE}=={core_version()}\n", encoding="utf-8")
        args = [*installer.install_args(), "--constraint", str(pin)]
        if upgrade:
            args.append("--upgrade")
        _run(installer.command(*args, spec), f"installing {spec}")


def uninstall(installer: Installer, distribution: str) -> None:
    _run(installer.command(*installer.uninstall_args(), distribution), f"removing {distribution}")


def environment() -> str:
    return os.path.realpath(sys.prefix)
