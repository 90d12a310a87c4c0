"""The ``score`` role: posts → scored records (champion + shadow, keyed by brand) and dead letters.

Stateless apart from the models, so any number of processes share the posts topic in one consumer
group. A batch is acknowledged once its scored records and dead letters are flushed to Kafka; the
store and watch roles take it from there.
"""

from __future__ import annotations

from streams.worker.runtime import Runtime


def register(runtime: Runtime) -> None:
    @runtime.app.agent(runtime.topics.posts, name="score_posts")
    async def score_posts(stream):  # type: ignore[no-untyped-def]
        await runtime.score_stream(stream)
