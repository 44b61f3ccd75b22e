"""The command of an embedding plugin: ``cl <plugin> embed PATH... [--normalize/--no-normalize]``.

The embedding tasks take the same parameters and give the same kind of result, so their plugins
share this command. A plugin's whole ``cli.py``::

    from cl_client.cli.embedding import embedding_app

    app = embedding_app(
        "cl_plugin_clip_embedding.client:ClipEmbeddingClient",
        help="Image embeddings of media files.",
    )

Like the rest of :mod:`cl_client.cli`, this module imports only Typer and the standard library; the
client class is imported when the command runs.
"""

# No ``from __future__ import annotations``: Typer reads the options from the annotations of a
# function defined inside embedding_app, which must be evaluated where the function is defined.

from typing import TYPE_CHECKING, Annotated, cast

import typer

from cl_client.cli.taskframe import TaskPlan, task_command

if TYPE_CHECKING:
    from cl_client.embedding import EmbeddingClient, EmbeddingResult

__all__ = ["DEFAULT_EMBED_TIMEOUT", "embedding_app"]

#: Seconds ``embed`` lets each job run unless ``--timeout`` says otherwise.
DEFAULT_EMBED_TIMEOUT = 60.0


def embedding_app(
    client: str, *, help: str, default_timeout: float = DEFAULT_EMBED_TIMEOUT
) -> typer.Typer:
    """A Typer app with one command, ``embed``, for the embedding task of ``client``.

    ``client`` names an :class:`~cl_client.embedding.EmbeddingClient` subclass as
    ``"package.module:Class"``; it is imported when the command runs, so ``cl <plugin> --help``
    stays fast. ``help`` is the group's help and ``default_timeout`` the default of
    ``--timeout``. Each result is printed with :func:`~cl_client.embedding.render_embedding`, so a
    result class adds rows through :meth:`~cl_client.embedding.EmbeddingResult.extra_rows`.
    """
    app = typer.Typer(no_args_is_help=True)

    # A callback keeps ``embed`` a sub-command (a Typer app with one command would become it).
    @app.callback(help=help)
    def main() -> None:  # pyright: ignore[reportUnusedFunction]
        pass

    @task_command(app, "embed", default_timeout=default_timeout)
    def embed(  # pyright: ignore[reportUnusedFunction]
        normalize: Annotated[
            bool,
            typer.Option(
                "--normalize/--no-normalize", help="L2-normalise the vector (the server default)."
            ),
        ] = True,
    ) -> "TaskPlan[EmbeddingResult]":
        """Compute the embedding of each input; --output saves the .npy file(s)."""
        from cl_client.embedding import render_embedding

        client_class = _load_client(client)
        return TaskPlan(
            client_class, client_class.build_form(normalize=normalize), render_embedding
        )

    return app


def _load_client(target: str) -> "type[EmbeddingClient[EmbeddingResult]]":
    from cl_client.embedding import EmbeddingClient
    from cl_client.errors import PluginError
    from cl_client.plugins import import_target

    plugin = target.partition(":")[0].partition(".")[0]
    obj = import_target(target, plugin=plugin)
    if not (isinstance(obj, type) and issubclass(obj, EmbeddingClient)):
        raise PluginError(
            f"plugin {plugin!r}: {target} is not a cl_client.embedding.EmbeddingClient subclass"
        )
    return cast("type[EmbeddingClient[EmbeddingResult]]", obj)
