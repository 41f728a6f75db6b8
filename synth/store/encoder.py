"""Turning generated samples into shard tables beside the generator, not in its way.

Both encoders run the same ``sample_row`` and ``rows_to_table``, so they give the same bytes; they differ only in
where the work runs:

- ``ThreadEncoder``: a worker thread of the calling process. Cheap to start, so it suits code that makes one shard
  at a time in an already parallel setting (the Ray actors), but a numpy-heavy generator and the encoder then take
  turns on the GIL: on 2 cores end-to-end synthesis with ``scenes`` ran at ~0.7x the generator's own speed.
- ``ProcessEncoder``: a child interpreter, started once per ``synthesize`` call, on the other core. It is a fresh
  interpreter rather than a fork because the parent may hold threads (a progress bar, torch's pools) that a fork
  would copy in an unknown state. Its start-up (~0.7 s of imports) overlaps generation because samples are
  queued in this process until the child reads them. The queue is bounded in bytes; past the bound, or when
  encoding is slower than generating (PNG), this process encodes samples itself instead of queueing more, so
  memory stays bounded and both cores stay busy. The child reads a pipe only this process writes: when this
  process dies, even by SIGKILL, the child reads end-of-file and exits, so a killed run leaves no orphan.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synth.core.sample import Sample

IN_FLIGHT_BYTES = 64 << 20  # queued for the child: ~250 samples of 256 px, more than its start-up lets pile up
_PIPE_BYTES = 1 << 20  # a 256 px sample in one write instead of four: fewer GIL hand-overs for the feeding thread
_SLOWER_BY = 8  # samples queued for the child beyond which this process encodes, once the child is slower
_PROBES = 2  # samples this process encodes to time encoding; the first pays one-off set-up costs
_TABLE = "table"  # asks the child for the table of the samples sent since the last request
_READY = "ready"  # the child's first message
_BOOT = "import sys; sys.path[:0] = sys.argv[3:]; from synth.store.encoder import serve; serve(int(sys.argv[1]), int(sys.argv[2]))"


class ThreadEncoder:
    def __init__(self, image_format: str):
        self.image_format = image_format
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")
        self._rows: list[Future] = []

    def put(self, sample: Sample) -> None:
        from synth.store.records import sample_row

        self._rows.append(self._pool.submit(sample_row, sample, self.image_format))

    def finish(self) -> Future:
        """The table of the samples put since the last call; one worker runs tasks in order, so rows are done."""
        from synth.store.records import SAMPLES_SCHEMA, rows_to_table

        rows, self._rows = self._rows, []
        return self._pool.submit(lambda: rows_to_table([row.result() for row in rows], SAMPLES_SCHEMA))

    def close(self, abort: bool = False) -> None:
        self._pool.shutdown(wait=True, cancel_futures=abort)

    def __enter__(self) -> ThreadEncoder:
        return self

    def __exit__(self, kind, *_) -> None:
        self.close(abort=kind is not None)


class EncoderFailed(RuntimeError):
    pass


class ProcessEncoder:
    def __init__(self, image_format: str):
        to_child, self._to_child = os.pipe()
        self._from_child, from_child = os.pipe()
        _widen(self._to_child)
        self._process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(to_child), str(from_child), *sys.path],
            pass_fds=(to_child, from_child),
            stdin=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._out, self._in = Connection(self._to_child, readable=False), Connection(self._from_child, writable=False)
        self.image_format = image_format
        self._lock = threading.Condition()
        self._queue: deque = deque([(image_format, 0)])
        self._queued_bytes = 0
        self._queued_samples = 0
        self._ready = False  # the child has imported what it needs and reads
        self._fewest = sys.maxsize  # fewest samples queued since it reads
        self._child_slower = False
        self._puts = 0
        self._encode_s, self._probed = 0.0, (0.0, 0)  # the last probe's encoding time; when and after which put
        self._pending: deque[Future] = deque()
        self._error: BaseException | None = None
        self._feeder = threading.Thread(target=self._feed, name="encode-feed", daemon=True)
        self._receiver = threading.Thread(target=self._receive, name="encode-receive", daemon=True)
        self._feeder.start()
        self._receiver.start()

    def put(self, sample: Sample) -> None:
        """Queue the sample; if the child is behind, encode it here and queue its row instead.

        With PNG images the child is slower than ``scenes`` (~8 ms against ~5 ms a sample): rather than wait at
        the end for a growing backlog, this process takes a share of the encoding, and both cores stay busy.
        Rows keep their queue order, so the table is the same.
        """
        self._puts += 1
        probe = self._puts <= _PROBES
        with self._lock:
            self._check()
            behind = probe or self._behind()
        if behind:
            from synth.store.records import sample_row

            start = time.perf_counter()
            row = sample_row(sample, self.image_format)
            if probe:
                self._encode_s, self._probed = time.perf_counter() - start, (time.perf_counter(), self._puts)
            size = len(row["image"]) + len(row["mask"] or b"") + sum(len(data) for _, data in row["arrays"])
            item: dict | Sample = row  # encoded here, or (below) left for the child to encode
        else:
            item = sample
            size = sum(a.nbytes for a in (sample.image, sample.mask, *sample.arrays.values()) if a is not None)
        with self._lock:
            self._check()
            self._queue.append((item, size))
            self._queued_bytes += size
            self._queued_samples += item is sample
            self._lock.notify_all()

    def finish(self) -> Future:
        """The table of the samples put since the last call, resolved when the child sends it."""
        future: Future = Future()
        with self._lock:
            self._check()
            self._pending.append(future)
            self._queue.append((_TABLE, 0))
            self._lock.notify_all()
        return future

    def close(self, abort: bool = False) -> None:
        if abort:
            self._process.kill()
        with self._lock:
            self._queue.append((None, 0))
            self._lock.notify_all()
        self._feeder.join()
        self._process.wait()
        self._receiver.join()
        self._in.close()

    def __enter__(self) -> ProcessEncoder:
        return self

    def __exit__(self, kind, *_) -> None:
        self.close(abort=kind is not None)

    def _behind(self) -> bool:
        """Whether the child is behind; called holding the lock.

        The child is the slower side if encoding a sample (timed on the probes this process encodes) takes
        longer than generating one (the time between puts since), or if, once it reads, its queue grows by
        ``_SLOWER_BY`` over its low point. From then on this process keeps the queue that short, so little is
        left for the child when the last shard ends. Otherwise samples queue up to the byte bound: the child's
        start-up is a one-off it makes up for when encoding is the cheaper side (JPEG).
        """
        if self._queued_bytes >= IN_FLIGHT_BYTES:
            return True
        if not self._child_slower and self._queued_samples >= _SLOWER_BY:
            since, puts = self._probed
            self._child_slower = self._encode_s > (time.perf_counter() - since) / max(1, self._puts - puts)
        if not self._ready:
            return self._child_slower and self._queued_samples >= _SLOWER_BY
        self._fewest = min(self._fewest, self._queued_samples)
        self._child_slower = self._child_slower or self._queued_samples >= self._fewest + _SLOWER_BY
        return self._child_slower and self._queued_samples >= _SLOWER_BY

    def _check(self) -> None:
        if self._error is not None:
            raise EncoderFailed(str(self._error)) from self._error

    def _fail(self, error: BaseException) -> None:
        with self._lock:
            self._error = self._error or error
            pending, self._pending = list(self._pending), deque()
            self._lock.notify_all()
        for future in pending:
            future.set_exception(error)

    def _feed(self) -> None:
        try:
            while True:
                with self._lock:
                    self._lock.wait_for(lambda: self._queue)
                    item, size = self._queue.popleft()
                if item is None:
                    return
                if self._error is None:
                    self._out.send(item)
                with self._lock:
                    self._queued_bytes -= size
                    self._queued_samples -= not isinstance(item, (dict, str))
                    self._lock.notify_all()
        except OSError as error:
            self._fail(EncoderFailed(f"encoder process stopped reading ({error})"))
        finally:
            self._out.close()

    def _receive(self) -> None:
        while True:
            try:
                kind, payload = self._in.recv()
            except (EOFError, OSError):
                with self._lock:
                    expected = not self._pending
                if not expected:
                    self._fail(EncoderFailed(f"encoder process exited with code {self._process.wait()}"))
                return
            if kind == _READY:
                with self._lock:
                    self._ready = True
                continue
            with self._lock:
                future = self._pending.popleft()
            if kind == _TABLE:
                future.set_result(payload)
            else:
                future.set_exception(payload)


Encoder = ThreadEncoder | ProcessEncoder


def open_encoder(image_format: str) -> Encoder:
    """A process where passing file descriptors to a child works (POSIX), else a thread."""
    return ProcessEncoder(image_format) if os.name == "posix" else ThreadEncoder(image_format)


def serve(read_fd: int, write_fd: int) -> None:
    """The child: rows for every sample received, a table (or the first error) for every request, until EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, whose exit ends this process cleanly
    from synth.store.records import SAMPLES_SCHEMA, rows_to_table, sample_row

    rows_to_table([], SAMPLES_SCHEMA)  # pyarrow imports pandas on first use: pay it while the generator warms up
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    outbox.send((_READY, None))
    try:
        image_format = inbox.recv()
    except EOFError:
        os._exit(0)
    rows: list[dict] = []
    error: BaseException | None = None
    while True:
        try:
            message = inbox.recv()
        except EOFError:
            # Every reply is written already (connections do not buffer); skipping interpreter teardown saves
            # ~0.15 s that the parent would otherwise wait for at the end of every run.
            os._exit(0)
        if isinstance(message, str) and message == _TABLE:
            try:
                reply = ("error", error) if error is not None else (_TABLE, rows_to_table(rows, SAMPLES_SCHEMA))
            except Exception as failure:
                reply = ("error", failure)
            outbox.send(reply)
            rows, error = [], None
        elif isinstance(message, dict):
            rows.append(message)  # encoded by the parent while this process was behind
        elif error is None:
            try:
                rows.append(sample_row(message, image_format))
            except Exception as failure:
                error = failure


def _widen(fd: int) -> None:
    import fcntl

    # Not Linux, or above the system's pipe-max-size: the default works, slower.
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
