"""A test plugin for the ``cl`` tests, so they need no compute plugin to be installed.

It adds ``cl echo-test run`` (the task ``cli_echo``, run by :func:`echo_executor`, which tests
register on the local server: it upper-cases the input into ``output/echo.txt``, also writes
``output/extra.txt``, reports progress 25/50/75 and fails on input starting with "fail") and
``cl echo-test md5`` (the local server's built-in ``hash`` task with ``algorithm=md5``). Both are
built on the task-command frame like every real task command.

``cl vector-test embed`` is the core's shared embedding command for :data:`VECTOR_TASK`, its client
in a module of its own (:data:`VECTOR_MODULE`) as an embedding plugin's would be; tests give the
server a stand-in executor for that task.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cl_local_server.executors import TaskContext

MODULE = "cl_echo_test_plugin"
VECTOR_MODULE = "cl_echo_test_vector"
#: A task the server knows (its form and result path), that no built-in executor runs.
VECTOR_TASK = "dino_embedding"

SOURCE = '''
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from cl_client.cli import Output, TaskPlan, task_command
from cl_client.cli.embedding import embedding_app
from cl_client.hookspecs import hookimpl
from cl_client.tasks import TaskClient, TaskResult

IN_FLIGHT = 0
MAX_IN_FLIGHT = 0


@hookimpl
def cl_register_commands(register):
    register("echo-test", "cl_echo_test_plugin:app", help="Echo files through the server.")
    register("vector-test", "cl_echo_test_plugin:vector_app", help="Stand-in vectors of files.")


@hookimpl
def cl_register_task_clients(register):
    register("cli_echo", "cl_echo_test_plugin:EchoClient")


app = typer.Typer(help="Echo files through the server.")
vector_app = embedding_app("cl_echo_test_vector:VectorClient", help="Stand-in vectors of files.")


@dataclass(kw_only=True)
class EchoResult(TaskResult):
    text: str


class EchoClient(TaskClient[EchoResult]):
    task_type = "cli_echo"

    async def submit_form(self, file, form, *, priority=5, on_bytes=None):
        # Counts jobs from submission until their result is collected: what --jobs bounds.
        global IN_FLIGHT, MAX_IN_FLIGHT
        IN_FLIGHT += 1
        MAX_IN_FLIGHT = max(MAX_IN_FLIGHT, IN_FLIGHT)
        return await super().submit_form(file, form, priority=priority, on_bytes=on_bytes)

    async def collect(self, job, dest=None):
        global IN_FLIGHT
        text = (await self.compute.read_bytes(job.job_id, "output/echo.txt")).decode()
        result = EchoResult(job=job, text=text)
        if dest is not None:
            saved = await self.compute.download(job.job_id, "output/echo.txt", dest)
            result.downloaded.append(saved)
        IN_FLIGHT -= 1
        return result


class EchoManyClient(EchoClient):
    multi_file = True

    async def collect(self, job, dest=None):
        result = await super().collect(job, None)
        if dest is not None:
            for name in ("output/echo.txt", "output/extra.txt"):
                target = dest / name.rsplit("/", 1)[-1]
                result.downloaded.append(await self.compute.download(job.job_id, name, target))
        return result


class AbsentClient(EchoClient):
    task_type = "clip_embedding"  # a task the test servers have no worker for


class Md5Client(TaskClient[EchoResult]):
    task_type = "hash"

    async def collect(self, job, dest=None):
        data = await self.compute.read_json(job.job_id, "output/hash.json")
        return EchoResult(job=job, text=str(data["hash_value"]))


def render(result: EchoResult, out: Output) -> None:
    out.result(f"echo: {result.text}")


@task_command(app, "run", default_timeout=20)
def run(
    many: bool = False,
    absent: bool = False,
    delay: float = 0.0,
    returns: Annotated[bool, typer.Option("--returns", help="A renderer returning text.")] = False,
) -> TaskPlan[EchoResult]:
    """Echo each input in upper case."""
    global IN_FLIGHT, MAX_IN_FLIGHT
    IN_FLIGHT = MAX_IN_FLIGHT = 0
    factory = AbsentClient if absent else EchoManyClient if many else EchoClient
    if returns:
        return TaskPlan(factory, {"delay": delay}, lambda result, out: f"echo: {result.text}")
    return TaskPlan(factory, {"delay": delay}, render)


@task_command(app, "md5", default_timeout=30)
def md5() -> TaskPlan[EchoResult]:
    """The MD5 of each input, computed by the server's hash task."""
    return TaskPlan(Md5Client, {"algorithm": "md5"}, render)
'''

VECTOR_SOURCE = f'''
from dataclasses import dataclass

from cl_client.embedding import EmbeddingClient, EmbeddingResult


@dataclass(kw_only=True)
class VectorResult(EmbeddingResult):
    pass


class VectorClient(EmbeddingClient[VectorResult]):
    task_type = "{VECTOR_TASK}"
    default_file_path = "output/{VECTOR_TASK}.npy"
    result_type = VectorResult
'''


def install(site: Path) -> Path:
    """Install the plugin (modules + dist-info with its entry point) into ``site``."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{MODULE}.py").write_text(SOURCE)
    (site / f"{VECTOR_MODULE}.py").write_text(VECTOR_SOURCE)
    info = site / "cl_echo_test-1.0.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cl-echo-test\nVersion: 1.0.0\n\n")
    (info / "entry_points.txt").write_text(f"[cl.plugins]\necho-test = {MODULE}\n")
    return site


def echo_executor(ctx: TaskContext) -> dict[str, object]:
    text = ctx.input_path.read_text()
    if text.startswith("fail"):
        raise ValueError("asked to fail")
    for step in (25, 50, 75):
        ctx.progress(step)
        time.sleep(float(str(ctx.params.get("delay", 0))) / 3)
    ctx.output_path.mkdir(parents=True, exist_ok=True)
    (ctx.output_path / "echo.txt").write_text(text.upper())
    (ctx.output_path / "extra.txt").write_text("extra")
    return {"length": len(text)}
