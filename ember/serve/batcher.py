"""Dynamic batching: requests to one model version wait in a queue and run together along the batch axis.

A batch closes when it holds `max_batch_size` rows or when `max_queue_delay_ms` has passed since its first
request arrived, whichever comes first. Only requests whose inputs agree on everything but the batch axis
can share a batch; the others wait for the next one. The queue has a limit (QueueFull -> 503 with
Retry-After); requests that time out or whose client went away are dropped before they run. Batches run on
the server's worker threads (at most `max_concurrent` at once per model version), never on the event loop.

Test hook: `hold_for=N` (env EMBER_SERVE_TEST_BATCH_HOLD) makes the batcher wait until N requests are
queued before it forms a batch, so tests can assert batch formation without sleeping.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np


class QueueFull(Exception):
    pass


class BatchTooLarge(ValueError):
    pass


@dataclass
class _Item:
    inputs: dict
    rows: int
    key: tuple
    future: asyncio.Future
    arrival: float = field(default_factory=time.perf_counter)


def _expire(fut: asyncio.Future, timeout: float) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError(f"no result within {timeout} s"))


class DynamicBatcher:
    def __init__(
        self,
        run,
        *,
        batchable: bool,
        max_batch_size: int,
        max_queue_delay_ms: float,
        max_queue_size: int,
        executor,
        max_concurrent: int = 1,
        observe=None,
        hold_for: int = 0,
    ):
        self._run = (
            run  # (dict name -> batched array) -> dict name -> array (sync, called on a worker thread)
        )
        self.batchable = batchable and max_batch_size > 0
        self.max_batch_size = max(1, max_batch_size)
        self.delay = max(0.0, max_queue_delay_ms) / 1e3
        self.max_queue_size = max_queue_size
        self.executor = executor
        self.observe = observe  # callback(batch_rows, queue_seconds list, compute_seconds)
        self.hold_for = hold_for
        self._queue: list[_Item] = []
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(max(1, max_concurrent))
        self._task = None
        self._running = 0
        self.batches = 0

    @property
    def depth(self) -> int:
        return sum(1 for i in self._queue if not i.future.done())

    @property
    def busy(self) -> bool:
        return self.depth > 0 or self._running > 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def release_hold(self) -> None:
        """Shutting down: the test hook must not keep queued requests from draining."""
        self.hold_for = 0
        self._wake.set()

    async def stop(self) -> None:
        """Finish everything queued and running, then stop the loop."""
        self.release_hold()
        while self.busy:
            await asyncio.sleep(0.005)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def enqueue(self, inputs: dict, timeout: float | None = None) -> asyncio.Future:
        """Queue a request; returns the future of its outputs, which fails with TimeoutError after `timeout`
        seconds. Cancelling the future drops the request before it runs (a running batch discards its
        rows). No task per request: this is the server's hot path."""
        rows = next(iter(inputs.values())).shape[0] if self.batchable and inputs else 1
        if self.batchable and rows > self.max_batch_size:
            raise BatchTooLarge(
                f"the request's batch of {rows} exceeds the model's max_batch_size {self.max_batch_size}"
            )
        self._queue = [i for i in self._queue if not i.future.done()]  # timed out / client gone: free slots
        if len(self._queue) >= self.max_queue_size:
            raise QueueFull(f"the queue of this model version is full ({self.max_queue_size} requests)")
        key = tuple(
            (n, a.dtype.str, a.shape[1:] if self.batchable else a.shape) for n, a in sorted(inputs.items())
        )
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._queue.append(_Item(inputs, rows, key, fut))
        self._wake.set()
        self.start()
        if timeout is not None:
            timer = loop.call_later(timeout, _expire, fut, timeout)
            fut.add_done_callback(lambda _: timer.cancel())
        return fut

    async def _loop(self) -> None:
        while True:
            self._queue = [i for i in self._queue if not i.future.done()]
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._slots.acquire()  # form the batch when a worker is free: it then holds all that queued
            try:
                batch = await self._form_batch() if any(not i.future.done() for i in self._queue) else []
            except BaseException:
                self._slots.release()
                raise
            if not batch:
                self._slots.release()
                continue
            self._running += 1
            asyncio.get_running_loop().create_task(self._execute(batch))

    async def _form_batch(self) -> list:
        first = self._queue[0]
        if self.hold_for:
            while self.hold_for and self.depth < self.hold_for:
                self._wake.clear()
                await self._wake.wait()
        elif self.batchable:
            deadline = first.arrival + self.delay
            while self._rows_for(first.key) < self.max_batch_size:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), left)
                except TimeoutError:
                    break
        batch, rows = [], 0
        for item in list(self._queue):
            if item.future.done() or item.key != first.key:
                continue
            if batch and (not self.batchable or rows + item.rows > self.max_batch_size):
                break
            batch.append(item)
            rows += item.rows
            if not self.batchable:
                break
        taken = {id(i) for i in batch}
        self._queue = [i for i in self._queue if id(i) not in taken and not i.future.done()]
        return batch

    def _rows_for(self, key) -> int:
        return sum(i.rows for i in self._queue if i.key == key and not i.future.done())

    async def _execute(self, batch: list) -> None:
        try:
            live = [i for i in batch if not i.future.done()]
            if not live:
                return
            start = time.perf_counter()
            queued = [start - i.arrival for i in live]
            if self.batchable and len(live) > 1:
                inputs = {n: np.concatenate([i.inputs[n] for i in live], axis=0) for n in live[0].inputs}
            else:
                inputs = live[0].inputs
            loop = asyncio.get_running_loop()
            try:
                outputs = await loop.run_in_executor(self.executor, self._run, inputs)
            except Exception as e:  # the model failed: every request of the batch gets the error
                for i in live:
                    if not i.future.done():
                        i.future.set_exception(e)
                return
            compute = time.perf_counter() - start
            self.batches += 1
            if self.observe is not None:
                self.observe(sum(i.rows for i in live), queued, compute)
            offset = 0
            for i in live:
                if self.batchable and len(live) > 1:
                    part = {n: a[offset : offset + i.rows] for n, a in outputs.items()}
                else:
                    part = outputs
                offset += i.rows
                if not i.future.done():
                    i.future.set_result(part)
        finally:
            self._running -= 1
            self._slots.release()
