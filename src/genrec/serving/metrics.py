"""Server metrics in the Prometheus text exposition format (version 0.0.4), thread-safe.

Three families: ``genrec_requests_total`` (counter by endpoint and status code),
``genrec_request_latency_seconds`` (histogram by endpoint) and ``genrec_batch_size`` (histogram of the
number of requests ranked together in one model call). The format is small enough to write directly,
which keeps the server free of a metrics dependency.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from dataclasses import dataclass, field

LATENCY_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Histogram:
    """Cumulative-bucket histogram: counts per upper bound (+Inf implicit), sum and count."""

    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        pos = bisect.bisect_left(self.buckets, value)  # first bucket with bound >= value
        if pos < len(self.counts):
            self.counts[pos] += 1
        self.total += value
        self.count += 1

    def lines(self, name: str, labels: str) -> list[str]:
        sep = "," if labels else ""
        out, running = [], 0
        for bound, c in zip(self.buckets, self.counts, strict=True):
            running += c
            out.append(f'{name}_bucket{{{labels}{sep}le="{_fmt(bound)}"}} {running}')
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        braces = f"{{{labels}}}" if labels else ""
        out.append(f"{name}_sum{braces} {_fmt(self.total)}")
        out.append(f"{name}_count{braces} {self.count}")
        return out


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class ServerMetrics:
    """Request counts, latency histogram and batch-size histogram of one server process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, int], int] = defaultdict(int)
        self._latency: dict[str, Histogram] = {}
        self._batches = Histogram(BATCH_BUCKETS)

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        with self._lock:
            self._requests[(endpoint, status)] += 1
            self._latency.setdefault(endpoint, Histogram(LATENCY_BUCKETS)).observe(seconds)

    def observe_batch(self, size: int) -> None:
        with self._lock:
            self._batches.observe(float(size))

    def render(self) -> str:
        """All metrics in the Prometheus text format."""
        with self._lock:
            lines = [
                "# HELP genrec_requests_total HTTP requests handled, by endpoint and status code.",
                "# TYPE genrec_requests_total counter",
            ]
            for (endpoint, status), n in sorted(self._requests.items()):
                lines.append(f'genrec_requests_total{{endpoint="{_escape(endpoint)}",status="{status}"}} {n}')
            lines += [
                "# HELP genrec_request_latency_seconds Request latency in seconds, by endpoint.",
                "# TYPE genrec_request_latency_seconds histogram",
            ]
            for endpoint, hist in sorted(self._latency.items()):
                lines += hist.lines("genrec_request_latency_seconds", f'endpoint="{_escape(endpoint)}"')
            lines += [
                "# HELP genrec_batch_size Requests ranked together in one model call.",
                "# TYPE genrec_batch_size histogram",
                *self._batches.lines("genrec_batch_size", ""),
            ]
        return "\n".join(lines) + "\n"
