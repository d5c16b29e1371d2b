"""Micro-batching: concurrent requests are gathered for a few milliseconds and ranked in one model call.

Every model call runs on one dedicated worker thread, so the event loop stays free to accept requests
and the model is never entered concurrently. With batching on, a collector task takes the first waiting
query, then keeps taking queries until ``max_batch_size`` are gathered or ``max_wait_ms`` has passed,
and hands the whole batch to `RecommendService.recommend_batch`; while that batch is ranked the next one
queues up. With batching off, each request is ranked on its own (still on the same worker thread).
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

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

    def _run_batch(self, queries: list[Query]) -> list[Ranked]:
        self.metrics.observe_batch(len(queries))
        return self.service.recommend_batch(queries)

    async def submit(self, query: Query) -> Ranked:
        """Rank one query, batched with concurrent ones when batching is enabled."""
        loop = asyncio.get_running_loop()
        if not self.config.enabled:
            (result,) = await loop.run_in_executor(self._executor, self._run_batch, [query])
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
            except Exception as exc:  # a model failure fails this batch only
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), result in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(result)
