"""Human output of ``cl hash compute``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cl_client.cli import Output

    from cl_plugin_hash.client import HashResult


def render_hash(result: HashResult, output: Output) -> None:
    """One block per file: the hash value and what exactly was hashed."""
    pairs: list[tuple[str, object]] = [
        ("hash", result.hash_value),
        ("algorithm", result.algorithm),
    ]
    if result.media_type is not None:
        pairs.append(("media type", result.media_type))
    if result.process_time is not None:
        pairs.append(("time", f"{result.process_time * 1000:.1f} ms"))
    pairs.extend(("saved", str(path)) for path in result.downloaded)
    output.key_values(pairs)
