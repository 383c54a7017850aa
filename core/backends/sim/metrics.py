"""Live serving metrics of the simulated deployments: a deterministic function of (seed, deployment,
revision, minute), so every refresh shows the series moving with the wall clock, and two processes
agree on the numbers."""

from __future__ import annotations

import hashlib
import math
import struct
from datetime import datetime, timedelta
from typing import Any

from core.clock import iso
from core.types import MetricPoint


def _noise(*parts: object) -> tuple[float, float, float]:
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=12).digest()
    a, b, c = struct.unpack("<III", digest)
    return a / 2**32, b / 2**32, c / 2**32


def series(seed: int, spec: dict[str, Any], revision: int, until: datetime, minutes: int) -> list[MetricPoint]:
    out = []
    end = until.replace(second=0, microsecond=0)
    for i in range(minutes - 1, -1, -1):
        t = end - timedelta(minutes=i)
        out.append(point(seed, spec, revision, t))
    return out


def point(seed: int, spec: dict[str, Any], revision: int, t: datetime) -> MetricPoint:
    minute = int(t.timestamp() // 60)
    u1, u2, u3 = _noise(seed, spec["name"], revision, minute)
    hour = t.hour + t.minute / 60
    diurnal = 1 + 0.35 * math.sin(2 * math.pi * (hour - 9) / 24)
    rate = spec["rate"] * diurnal * (0.95 + 0.1 * u1)
    load = rate / spec["rate"]
    p50 = spec["latency_ms"] * (0.9 + 0.15 * load) * (0.95 + 0.1 * u2)
    spike = 1.8 if u3 > 0.985 else 1.0
    err = spec["error_rate"] * (0.6 + 0.8 * u3) * spike
    # Score distribution: a beta-like bump around the mean, shifted by the deployment's drift.
    mean = min(0.95, max(0.02, spec.get("score_mean", 0.5) + spec.get("drift", 0.0) * min(1.0, hour / 24 + 0.5)))
    hist = []
    for b in range(10):
        centre = (b + 0.5) / 10
        hist.append(int(rate * 60 * math.exp(-((centre - mean) ** 2) / 0.02) / 4))
    return MetricPoint(
        ts=iso(t),
        request_rate=round(rate, 2),
        p50_ms=round(p50, 2),
        p95_ms=round(p50 * 1.9 * spike, 2),
        p99_ms=round(p50 * 2.7 * spike, 2),
        error_rate=round(err, 5),
        score_mean=round(mean, 4),
        score_hist=hist,
    )
