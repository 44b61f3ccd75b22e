"""Shell completion of the values users type most: profile names, profile keys, job ids.

Each function takes what has been typed of the word and returns the candidates. They run only
when the shell asks (``_CL_COMPLETE`` set), never on a normal start, and a broken config file
gives no candidates rather than an error in the middle of the user's command line. Choice options
(an Enum or a Literal, or a text option whose placeholder lists its values, ``sha512|md5``) are
completed by :mod:`cl_client.cli.group` for every command.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "complete_job_ids",
    "complete_profile_keys",
    "complete_profile_names",
]


def _matching(candidates: Iterable[str], incomplete: str) -> list[str]:
    return sorted({c for c in candidates if c.startswith(incomplete)})


def complete_profile_names(incomplete: str) -> list[str]:
    """The profiles of the config file and those plugins offer."""
    from cl_client.errors import ClError

    try:
        from cl_client.config import DEFAULT_PROFILE, ConfigStore
        from cl_client.plugins import builtin_profiles

        names = [*ConfigStore().load().profiles, *builtin_profiles(), DEFAULT_PROFILE]
    except (ClError, OSError):
        return []
    return _matching(names, incomplete)


def complete_profile_keys(incomplete: str) -> list[str]:
    """The keys a profile can hold (``compute_url``, ``auth_mode``, ...)."""
    from cl_client.config import PROFILE_KEYS

    return _matching(PROFILE_KEYS, incomplete)


def complete_job_ids(incomplete: str) -> list[str]:
    """Job ids from the local job journal, newest first (none when it cannot be read)."""
    from cl_client.errors import ClError

    try:
        from cl_client.journal import Journal

        with Journal() as journal:
            return journal.job_ids(incomplete)
    except (ClError, OSError):
        return []
