"""Shell completion of the values users type most: profile names, profile keys, job ids.

Each function takes what has been typed of the word and returns the candidates. They run only
when the shell asks (``_CL_COMPLETE`` set), never on a normal start, and a broken config file
gives no candidates rather than an error in the middle of the user's command line. Choice options
(an Enum or a Literal, or a text option whose placeholder lists its values, ``sha512|md5``) are
completed by :mod:`cl_client.cli.group` for every command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

__all__ = [
    "JOB_ID_SOURCES",
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


#: Where job ids to complete come from: each callable returns recent job ids, newest first.
#: Empty until something records the jobs ``cl`` submits; a job history adds its reader here.
JOB_ID_SOURCES: list[Callable[[], Iterable[str]]] = []


def complete_job_ids(incomplete: str) -> list[str]:
    """Job ids from :data:`JOB_ID_SOURCES` (none yet), newest first."""
    seen: list[str] = []
    for source in JOB_ID_SOURCES:
        try:
            ids = list(source())
        except Exception:  # noqa: S112 - a broken history must not break the shell
            continue
        seen += [i for i in ids if i.startswith(incomplete) and i not in seen]
    return seen
