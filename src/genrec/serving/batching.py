"""Micro-batching: concurrent requests are gathered for a few milliseconds and ranked in one model call.

Every model call runs on one dedicated worker thread, so the event loop stays free to accept requests
and the model is never entered concurrently. With batching on, a collector task takes the first waiting
query, then keeps taking queries until ``max_batch_size`` are gathered or ``max_wait_ms`` has passed,
and hands the whole batch to `RecommendService.recommend_batch`; while that batch is ranked the next one
queues up. With batching off, each request is ranked on its own (still on the same worker thread).

A batch changes throughput, never answers: `RecommendService.recommend_batch` keeps k, exclusions,
filters and the fallback per request, and if a batch raises, each of its requests is ranked alone so an
error reaches only the request that caused it. Explanations and catalogue changes run on the same worker
thread (`MicroBatcher.run_exclusive`), between batches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from genrec.errors import ConfigError
from genrec.serving.metrics import ServerMetrics
from genrec.serving.service import Query, Ranked, RecommendService


@dataclass(frozen=True)
class BatchingConfig:
    """Micro-batching options; ``enabled=False`` ranks every request alone."""

    enabled: bool = True
    max_batch_size: int = 64
    max_wait_ms: float = 2.0

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ConfigError(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        if not 0.0 <= self.max_wait_ms <= 1000.0:
            raise ConfigError(f"max_wait_ms must be in [0, 1000], got {self.max_wait_ms}")


_Item = tuple[Query, "asyncio.Future[Ranked]"]
_T = TypeVar("_T")


class MicroBatcher:
    """Queues queries from request handlers and answers them in batches (see the module docstring)."""

    def __init__(self, service: RecommendService, config: BatchingConfig, metrics: ServerMetrics) -> None:
        self.service, self.config, self.metrics = service, config, metrics
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genrec-model")
        self._queue: asyncio.Queue[_Item] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Create the queue and collector task on the running event loop."""
        self._queue = asyncio.Queue()
        if self.config.enabled:
            self._task = asyncio.create_task(self._collect(), name="genrec-microbatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._queue is not None and not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(RuntimeError("server is shutting down"))
        self._executor.shutdown(wait=True)

    def _run_batch(self, queries: list[Query]) -> list[Ranked | BaseException]:
        """Rank a batch; if it fails, rank each query alone so only the failing ones get an error."""
        self.metrics.observe_batch(len(queries))
        try:
            return list(self.service.recommend_batch(queries))
        except Exception:
            if len(queries) == 1:
                raise
        answers: list[Ranked | BaseException] = []
        for query in queries:
            try:
                answers.extend(self.service.recommend_batch([query]))
            except Exception as exc:  # this request's own failure, reported to it alone
                answers.append(exc)
        return answers

    async def run_exclusive(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn(*args)`` on the model worker thread, between batches, never beside a model call.

        Everything that reads or changes the model outside ranking (explanations, catalogue updates) goes
        through here, so no request ever sees a model half-way through a change.
        """
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def submit(self, query: Query) -> Ranked:
        """Rank one query, batched with concurrent ones when batching is enabled."""
        loop = asyncio.get_running_loop()
        if not self.config.enabled:
            (result,) = await loop.run_in_executor(self._executor, self._run_batch, [query])
            if isinstance(result, BaseException):
                raise result
            return result
        if self._queue is None or self._task is None:
            raise RuntimeError("MicroBatcher.start() was not called")
        fut: asyncio.Future[Ranked] = loop.create_future()
        await self._queue.put((query, fut))
        return await fut

    async def _gather(self, queue: asyncio.Queue[_Item]) -> list[_Item]:
        batch = [await queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.max_wait_ms / 1000.0
        while len(batch) < self.config.max_batch_size:
            if not queue.empty():
                batch.append(queue.get_nowait())
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                async with asyncio.timeout(remaining):
                    batch.append(await queue.get())
            except TimeoutError:
                break
        return batch

    async def _collect(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [(q, f) for q, f in await self._gather(self._queue) if not f.done()]
            if not batch:
                continue
            try:
                results = await loop.run_in_executor(self._executor, self._run_batch, [q for q, _ in batch])
            except Exception as exc:  # only if ranking one query alone raised outside _run_batch
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), result in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)
