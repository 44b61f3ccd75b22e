"""``-F key=value`` form fields, shared by ``cl task run`` and ``cl api``.

``-F key=@path`` reads the value from a file (as ``gh api -F`` does); ``--raw-field key=value``
sends the value as written, even when it starts with ``@``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from cl_client.errors import InvalidInputError

#: Largest field value read from a file: form fields are parameters, not uploads.
MAX_FIELD_FILE: Final = 1024 * 1024

FIELD_HELP: Final = "A form field KEY=VALUE (repeatable); KEY=@FILE reads the value from FILE."
RAW_FIELD_HELP: Final = "A form field KEY=VALUE sent as written, even if it starts with @."


def _split(text: str, option: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InvalidInputError(f"{option} {text!r}: expected KEY=VALUE")
    return key.strip(), value


def _read_value(key: str, where: str) -> str:
    path = Path(where)
    try:
        size = path.stat().st_size
        if size > MAX_FIELD_FILE:
            raise InvalidInputError(
                f"-F {key}=@{where}: the file is {size} bytes; field values read from a file "
                f"are limited to {MAX_FIELD_FILE} bytes"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(
            f"-F {key}=@{where}: cannot read the file ({exc.strerror or exc})"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInputError(f"-F {key}=@{where}: the file is not UTF-8 text") from None
    # A trailing newline is the editor's, not the value's (as `$(cat FILE)` would drop it).
    return text.removesuffix("\n")


def parse_fields(fields: Sequence[str], raw_fields: Sequence[str] = ()) -> dict[str, str]:
    """The form of ``-F`` and ``--raw-field`` values (a later KEY wins, ``--raw-field`` over
    ``-F``); InvalidInputError for a value without ``=`` or a file that cannot be read."""
    out: dict[str, str] = {}
    for text in fields:
        key, value = _split(text, "-F")
        out[key] = _read_value(key, value[1:]) if value.startswith("@") else value
    for text in raw_fields:
        key, value = _split(text, "--raw-field")
        out[key] = value
    return out
