"""Fixtures shared by the suite: a real mosquitto broker and the cloud-side client; the
hypothesis profile; the leak check every test passes (threads, asyncio tasks, child
processes)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings

from testbed.broker import CloudClient, Mosquitto
from testbed.waiting import wait_until

T = TypeVar("T")

LEAK_GRACE_S = 3.0  # for a thread, task or process on its way out when the test ends

# Properties, not timings: a loaded CI machine or a Pi must not fail a test for being slow.
settings.register_profile(
    "edge", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("edge")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "leaks(reason): the test leaves a thread, task or process behind on purpose; "
        "no_leaks does not check it",
    )


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running mosquitto on a free port with its own persistence; stopped afterwards."""
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def cloud(mosquitto: Mosquitto) -> Iterator[CloudClient]:
    """The cloud side on `mosquitto`: persistent session, subscribed to `fleet/v1/+/#`."""
    client = CloudClient(mosquitto)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails a test that leaves threads, asyncio tasks or child processes behind it.

    Autouse, so it is set up before and torn down after the test's other fixtures: what it
    sees at the end is what the test and all its fixtures left. Threads and processes get
    LEAK_GRACE_S to end; a task still pending when the coroutine given to `asyncio.run`
    returns is a leak (asyncio.run would cancel it unseen). `@pytest.mark.leaks(reason)`
    exempts a test whose leak is the point (none does today).
    """
    if request.node.get_closest_marker("leaks") is not None:
        yield
        return
    threads_before = set(threading.enumerate())
    children_before = set(child_processes())
    tasks_left: list[str] = []
    run = asyncio.run
    asyncio.run = run_checking_tasks(run, tasks_left)
    try:
        yield
    finally:
        asyncio.run = run

    def leaks() -> list[str]:
        threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        children = [c for c in child_processes() if c not in children_before]
        return [f"thread {t.name}" for t in threads] + [f"process {c}" for c in children]

    try:
        wait_until(lambda: not leaks(), LEAK_GRACE_S, "no leak")
    except TimeoutError:
        tasks_left += leaks()
    assert not tasks_left, f"left running after the test: {tasks_left}"


def run_checking_tasks(run: Callable[..., T], tasks_left: list[str]) -> Callable[..., T]:
    """`asyncio.run` that notes the tasks still pending when its coroutine returns (after
    LEAK_GRACE_S for those already on their way out)."""

    def checked_run(main: Coroutine[Any, Any, T], **options: Any) -> T:
        async def watched() -> T:
            try:
                return await main
            finally:
                pending = asyncio.all_tasks() - {asyncio.current_task()}
                if pending:
                    _, still = await asyncio.wait(pending, timeout=LEAK_GRACE_S)
                    tasks_left.extend(f"task {task.get_name()} {task.get_coro()}" for task in still)

        return run(watched(), **options)

    return checked_run


def child_processes() -> list[str]:
    """The live (not zombie) descendants of this process, as `pid command`, from /proc."""
    parents: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        pid = int(text[: text.index(" ")])
        name = text[text.index("(") + 1 : text.rindex(")")]
        state, ppid = text[text.rindex(")") + 2 :].split()[:2]
        if state != "Z":
            parents.setdefault(int(ppid), []).append(pid)
            names[pid] = name
    found: list[str] = []
    todo = [os.getpid()]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(f"{child} {names[child]}")
            todo.append(child)
    return found
