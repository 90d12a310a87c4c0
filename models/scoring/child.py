"""One call in a fresh spawned process, whose death is seen at once.

A multiprocessing pool replaces a child that dies but never re-sends its task, so a caller waits for
ever; native libraries here (ONNX Runtime, OpenVINO, NNCF) have aborted in fresh processes now and
then ("Resource deadlock avoided"). A plain process and a pipe tell death, a timeout and an answer apart.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChildOutcome:
    answered: bool
    value: Any = None
    exitcode: int | None = None  # the dead child's; None when it gave no answer in time (then killed)


def _run_and_send(send: Any, fn: Callable[..., Any], *args: Any) -> None:
    """Run in the child: ``fn(*args)``, or the exception it raised, sent to the parent."""
    try:
        answer: tuple[bool, Any] = (True, fn(*args))
    except Exception as exc:  # noqa: BLE001 - re-raised in the parent
        answer = (False, exc)
    send.send(answer)
    send.close()


def call_in_child(
    fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float, *, attempts: int = 1, what: str = "the child process"
) -> ChildOutcome:
    """``fn(*args)`` in a fresh process (``fn`` importable by name: the child is spawned), and in another
    each time one dies, up to ``attempts``; an exception ``fn`` raised is raised here. A child silent for
    ``timeout_s`` is killed and not replaced."""
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1; got {attempts}")
    for attempt in range(1, attempts + 1):
        outcome = _call_once(fn, args, timeout_s)
        if outcome.answered or outcome.exitcode is None:
            return outcome
        log.error("%s died (exit code %s, attempt %d of %d)%s", what, outcome.exitcode, attempt, attempts,
                  "; starting another" if attempt < attempts else "")
    return outcome


def _call_once(fn: Callable[..., Any], args: tuple[Any, ...], timeout_s: float) -> ChildOutcome:
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_run_and_send, args=(send, fn, *args), daemon=True)
    child.start()
    send.close()
    try:
        if receive.poll(timeout_s):
            ok, answer = receive.recv()
            if ok:
                return ChildOutcome(True, answer, 0)
            raise answer
        return ChildOutcome(False)
    except EOFError:  # it died before answering
        child.join(5)
        return ChildOutcome(False, exitcode=child.exitcode if child.exitcode is not None else -1)
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        receive.close()
