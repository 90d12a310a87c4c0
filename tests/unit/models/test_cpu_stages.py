"""Stage CPU accounting: exclusive times per stage, on a clock the test drives."""

from __future__ import annotations

import threading

from models.cpu_stages import StageCPU


class Ticks:
    """A thread-CPU clock that reads whatever the test set, in ns."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


def test_a_stage_adds_the_time_between_its_start_and_its_end() -> None:
    clock = Ticks()
    stages = StageCPU(clock)
    clock.now = 1_000
    with stages.stage("store"):
        clock.now = 3_500_001_000
    assert stages.seconds() == {"store": 3.5}


def test_a_nested_stage_is_taken_out_of_the_stage_around_it() -> None:
    clock = Ticks()
    stages = StageCPU(clock)
    with stages.stage("score"):
        clock.now = 2_000_000_000
        with stages.stage("tokenise"):
            clock.now = 3_000_000_000
        with stages.stage("forward"):
            clock.now = 7_000_000_000
        clock.now = 7_500_000_000
    assert stages.seconds() == {"tokenise": 1.0, "forward": 4.0, "score": 2.5}


def test_repeated_stages_add_up_and_count_their_calls() -> None:
    clock = Ticks()
    stages = StageCPU(clock)
    for _ in range(3):
        with stages.stage("publish"):
            clock.now += 250_000_000
    assert (stages.seconds(), stages.calls()) == ({"publish": 0.75}, {"publish": 3})


def test_stages_left_out_of_order_are_each_charged_their_own_span() -> None:
    """Two coroutines on one thread, the outer one leaving first: no error, and each keeps its span."""
    clock = Ticks()
    stages = StageCPU(clock)
    outer, inner = stages.stage("publish"), stages.stage("brand detectors")
    outer.__enter__()
    clock.now = 1_000_000_000
    inner.__enter__()
    clock.now = 3_000_000_000
    outer.__exit__(None, None, None)
    clock.now = 4_000_000_000
    inner.__exit__(None, None, None)
    assert stages.seconds() == {"publish": 3.0, "brand detectors": 3.0}


def test_each_thread_nests_its_own_stages() -> None:
    stages = StageCPU(lambda: 0)
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with stages.stage("health"):
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    entered.wait(5)
    with stages.stage("forward"):
        release.set()
        thread.join(5)
    assert stages.calls() == {"health": 1, "forward": 1}
