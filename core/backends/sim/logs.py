"""Failure log templates (fixtures/logs/<category>.txt) and the noise lines of a job's full log."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LogTemplate:
    category: str
    kinds: tuple[str, ...]
    exit_code: int
    reason: str
    body: str


def load_templates(logs_dir: Path) -> dict[str, list[LogTemplate]]:
    """Parse every <category>.txt: templates separated by `--- kinds=a,b [exit=N] [reason=R]` headers."""
    out: dict[str, list[LogTemplate]] = {}
    for path in sorted(Path(logs_dir).glob("*.txt")):
        category = path.stem
        header: dict[str, str] | None = None
        body: list[str] = []

        def flush(category: str, header: dict[str, str] | None, body: list[str]) -> None:
            if header is not None and body:
                out.setdefault(category, []).append(
                    LogTemplate(
                        category,
                        tuple(header.get("kinds", "spark").split(",")),
                        int(header.get("exit", "1")),
                        header.get("reason", "Error"),
                        "\n".join(body).strip("\n"),
                    )
                )

        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("--- "):
                flush(category, header, body)
                header = dict(part.split("=", 1) for part in line[4:].split() if "=" in part)
                body = []
            elif header is not None:
                body.append(line)
        flush(category, header, body)
    return out


_NOISE = {
    "spark": [
        "{ts} INFO SparkContext: Running Spark version 3.5.3",
        "{ts} INFO ResourceUtils: Resources for spark.driver: ",
        "{ts} INFO SparkContext: Submitted application: {job}",
        "{ts} INFO DAGScheduler: Got job {n} (save at NativeMethodAccessorImpl.java:0) with {m} output partitions",
        "{ts} INFO DAGScheduler: Submitting ResultStage {n} (MapPartitionsRDD[{m}] at save), which has no missing parents",
        "{ts} INFO TaskSetManager: Starting task {m}.0 in stage {n}.0 (TID {k}) ({host}, executor {e}, partition {m}, PROCESS_LOCAL, 9125 bytes)",
        "{ts} INFO TaskSetManager: Finished task {m}.0 in stage {n}.0 (TID {k}) in {ms} ms on {host} (executor {e}) ({m}/{total})",
        "{ts} INFO BlockManagerInfo: Added broadcast_{n}_piece0 in memory on {host}:{port} (size: 38.2 KiB, free: 2.1 GiB)",
        "{ts} INFO MemoryStore: Block broadcast_{n} stored as values in memory (estimated size 412.5 KiB, free 2.1 GiB)",
        "{ts} INFO ShuffleBlockFetcherIterator: Getting {m} (1204.3 MiB) non-empty blocks including 12 (41.7 MiB) local",
        "{ts} INFO FileSourceStrategy: Pushed Filters: IsNotNull(event_date)",
        "{ts} INFO CodeGenerator: Code generated in {ms} ms",
        "{ts} INFO ExecutorAllocationManager: Requesting {e} new executors because tasks are backlogged",
    ],
    "python": [
        "{iso} INFO pipeline: loading partition {n} of {total}",
        "{iso} INFO pipeline: read {m} rows in {ms} ms",
        "{iso} INFO features: computed {k} features for batch {n}",
        '{iso} DEBUG urllib3.connectionpool: https://storage.internal:443 "GET /datasets/part-{n} HTTP/1.1" 200 None',
        "{iso} INFO trainer: iteration {n} train-auc={auc}",
    ],
    "pytorch": [
        "{iso} INFO torch.distributed: rank {e} initialised (world size 16)",
        "{iso} INFO trainer: epoch {n} step {k} loss={loss} lr=0.0003 throughput={m} samples/s",
        "{iso} INFO dataloader: prefetched shard {m} of {total}",
        "{iso} INFO checkpoint: saved step {k} to /checkpoints/{job}/step-{k}.pt",
    ],
}


def full_log(run_id: str, kind: str, job: str, submitted_at: str, tail: str | None, host: str) -> str:
    """The whole driver log of an attempt: deterministic noise, then the tail (for failed attempts)."""
    rng = random.Random(hashlib.sha256(run_id.encode()).digest())
    lines = []
    templates = _NOISE.get(kind, _NOISE["python"])
    ts = submitted_at[2:10].replace("-", "/") + " " + submitted_at[11:19]
    for i in range(rng.randint(80, 400)):
        lines.append(
            rng.choice(templates).format(
                ts=ts,
                iso=submitted_at,
                job=job,
                host=host,
                n=i // 20,
                m=rng.randint(0, 999),
                k=rng.randint(1000, 99999),
                e=rng.randint(1, 40),
                ms=rng.randint(3, 9000),
                total=1000,
                port=rng.randint(30000, 45000),
                auc=f"{rng.uniform(0.7, 0.95):.4f}",
                loss=f"{rng.uniform(0.1, 2):.4f}",
            )
        )
    if tail:
        lines.append(tail)
    else:
        lines.append(f"{submitted_at} INFO {job}: finished successfully")
    return "\n".join(lines) + "\n"
