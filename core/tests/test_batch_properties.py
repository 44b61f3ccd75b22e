"""Property tests of the batch's input walk and output layout (hypothesis), on real folders."""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath

from cl_client.batch import BatchItem, Folder
from cl_client.cli.inputs import InputSource
from cl_client.models import Job
from hypothesis import given, settings
from hypothesis import strategies as st

NAME = st.text(
    alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="-_. "),
    min_size=1,
    max_size=12,
).filter(lambda n: n not in (".", "..") and not n.endswith(" ") and not n.startswith(" "))
TREE = st.lists(st.lists(NAME, min_size=1, max_size=3), min_size=1, max_size=25)


def _build(root: Path, paths: list[list[str]]) -> set[PurePosixPath]:
    """Create the files (a path that collides with a folder is dropped); the relative paths."""
    made: set[PurePosixPath] = set()
    for parts in paths:
        target = root.joinpath(*parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                continue
            target.write_text("x")
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            continue
        made.add(PurePosixPath(*parts))
    return made


@settings(max_examples=60, deadline=None)
@given(TREE)
def test_a_walk_yields_every_visible_file_once_in_a_stable_order(paths: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        made = _build(root, paths)
        hidden = {p for p in made if any(part.startswith(".") for part in p.parts)}
        source = InputSource([str(root)])
        first = [item.rel for item in source]
        again = [item.rel for item in InputSource([str(root)])]
        assert first == again  # stable across runs
        assert len(first) == len(set(first))  # once each
        assert set(first) == made - hidden
        assert all((root / item.rel).is_file() for item in source)


@settings(max_examples=60, deadline=None)
@given(TREE, st.sampled_from(["output/hash.json", "output/thumbnail.jpg", "output"]))
def test_the_folder_layout_never_puts_two_inputs_in_one_place(
    paths: list[list[str]], server_name: str
) -> None:
    rels = {PurePosixPath(*parts) for parts in paths}
    job = Job(job_id="j", task_type="t", status="completed", params={"output_path": server_name})
    for multi_file in (False, True):
        layout = Folder(Path("/out"), multi_file=multi_file)
        targets = [layout.path_for(BatchItem(Path("/in") / rel, rel), job) for rel in rels]
        assert len(set(targets)) == len(targets)
        assert all(Path("/out") in t.parents for t in targets)
