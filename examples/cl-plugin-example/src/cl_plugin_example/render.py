"""Presentation: a fingerprint per file, then the files that share content."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from cl_plugin_example.client import FileOutcome, Fingerprint, duplicate_groups

if TYPE_CHECKING:
    from cl_client.cli import Output
    from cl_client.models import JsonObject


def render_fingerprint(result: Fingerprint, output: Output) -> None:
    """One input's fingerprint (the core prints the input and job id above it)."""
    output.key_values(
        [("fingerprint", result.short), ("md5", result.md5), ("type", result.media_type)]
        + [("saved", str(path)) for path in result.downloaded]
    )


def outcome_json(outcome: FileOutcome) -> JsonObject:
    fingerprint = outcome.fingerprint
    return {
        "file": str(outcome.path),
        "fingerprint": fingerprint.short if fingerprint else None,
        "md5": fingerprint.md5 if fingerprint else None,
        "media_type": fingerprint.media_type if fingerprint else None,
        "job_id": fingerprint.job.job_id if fingerprint else None,
        "error": outcome.error.message if outcome.error else None,
    }


def report_json(outcomes: Sequence[FileOutcome]) -> JsonObject:
    """The ``--json`` document: every file, and the duplicate groups as lists of paths."""
    return {
        "files": [outcome_json(outcome) for outcome in outcomes],
        "duplicates": [
            [str(outcome.path) for outcome in group] for group in duplicate_groups(outcomes)
        ],
    }


def render_report(outcomes: Sequence[FileOutcome], output: Output) -> None:
    rows: list[list[object]] = []
    for outcome in outcomes:
        fingerprint = outcome.fingerprint
        if fingerprint is not None:
            rows.append([fingerprint.short, fingerprint.media_type or "-", outcome.path])
        else:
            message = outcome.error.message if outcome.error else "no result"
            rows.append(["(failed)", message, outcome.path])
    output.table(["Fingerprint", "Type", "File"], rows, title="Fingerprints (md5)")

    groups = duplicate_groups(outcomes)
    if not groups:
        distinct = sum(1 for outcome in outcomes if outcome.fingerprint is not None)
        output.result(f"no duplicates among {distinct} file(s)")
        return
    output.table(
        ["Fingerprint", "Copies", "Files"],
        [
            [
                group[0].fingerprint.short if group[0].fingerprint else "?",
                len(group),
                ", ".join(str(outcome.path) for outcome in group),
            ]
            for group in groups
        ],
        title="Duplicates",
    )
