"""The evaluation gate a version passes before it takes the production or canary alias, and that
`models gate` runs as a CI/CD step: its artifact is the one registered, its data passed validation, it
is no worse than production beyond a tolerance, and a compressed child lost no more than that against
its parent."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from core.types import ModelVersion

DEFAULT_TOLERANCE = 0.01  # of accuracy: one point


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


def judge(
    candidate: ModelVersion,
    measured: float | None,
    artifact_error: str | None,
    production: ModelVersion | None,
    parent: ModelVersion | None,
    tolerance: float = DEFAULT_TOLERANCE,
    extra: list[tuple[str, bool, str]] | None = None,
) -> dict[str, Any]:
    """`measured`: the candidate's accuracy re-measured from its artifact now (None when it could not be
    loaded: `artifact_error` says why). `extra`: more (name, passed, detail), e.g. of its package."""
    checks = []
    ref = f"{candidate.model}:{candidate.version}"
    checks.append(
        Check(
            "artifact",
            artifact_error is None,
            artifact_error or f"sha256 {candidate.sha256[:12]}… verified, loaded as tensors",
        )
    )
    validation = candidate.metrics.get("data_validation") or {}
    problems = validation.get("problems") or []
    checks.append(
        Check(
            "data validation",
            validation.get("passed") is True,
            "passed against " + (validation.get("reference") or "no reference (first version)")
            if validation.get("passed")
            else ("; ".join(problems) if problems else "no validation recorded"),
        )
    )
    recorded = candidate.metrics.get("accuracy")
    if measured is not None and isinstance(recorded, int | float) and abs(measured - recorded) > 1e-9:
        checks.append(Check("reproducible", False, f"accuracy re-measured {measured:.4f}, registered {recorded:.4f}"))
    acc = measured if measured is not None else recorded
    if production is None or production.version == candidate.version:
        checks.append(Check("evaluation", acc is not None, "no other production version to compare with"))
    else:
        base = production.metrics.get("accuracy")
        if not isinstance(base, int | float) or acc is None:
            checks.append(
                Check("evaluation", acc is not None, f"production {production.version} has no accuracy to compare with")
            )
        else:
            ok = acc >= base - tolerance
            checks.append(
                Check(
                    "evaluation",
                    ok,
                    f"accuracy {acc:.4f} against production v{production.version}'s {base:.4f} "
                    f"({'within' if ok else 'beyond'} the tolerance of {tolerance:g})",
                )
            )
    compression = candidate.params.get("compression")
    if compression and parent is not None:
        before = parent.metrics.get("accuracy")
        if isinstance(before, int | float) and acc is not None:
            drop = before - acc
            checks.append(
                Check(
                    "compression",
                    drop <= tolerance,
                    f"accuracy {acc:.4f} against parent v{parent.version}'s {before:.4f}: "
                    f"{'a drop of ' + format(drop * 100, '.1f') + ' points' if drop > 0 else 'no drop'} "
                    f"(allowed {tolerance * 100:g})",
                )
            )
    checks += [Check(*c) for c in extra or []]
    return {
        "model": candidate.model,
        "version": candidate.version,
        "ref": ref,
        "passed": all(c.passed for c in checks),
        "tolerance": tolerance,
        "checks": [asdict(c) for c in checks],
    }
