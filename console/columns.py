"""The CLI's table columns: (header, value of a JSON-ready record) for each listing (`--format table`)."""

from __future__ import annotations

from core import clock
from core.types import object_name, probability_text


def _age(ts: str) -> str:
    return clock.age(ts)


NODE_COLUMNS = [
    ("NAME", lambda r: r["name"]),
    ("POOL", lambda r: r["pool"]),
    ("STATUS", lambda r: r["status"]),
    ("CPU", lambda r: r["cpu"]),
    ("MEM(GiB)", lambda r: r["memory_gib"]),
    ("GPU", lambda r: r["gpus"]),
    ("PODS", lambda r: r["pods"]),
    ("KUBELET", lambda r: r["kubelet_version"]),
    ("CONFIG", lambda r: r["config_version"]),
    ("AGE", lambda r: _age(r["created_at"])),
]
POD_COLUMNS = [
    ("NAMESPACE", lambda r: r["namespace"]),
    ("NAME", lambda r: r["name"]),
    ("NODE", lambda r: r["node"] or "-"),
    ("PHASE", lambda r: r["phase"]),
    ("OWNER", lambda r: r["owner"]),
    ("CPU", lambda r: r["cpu"]),
    ("MEM(GiB)", lambda r: r["memory_gib"]),
    ("RESTARTS", lambda r: r["restarts"]),
]
ROLLOUT_COLUMNS = [
    ("DEPLOYMENT", lambda r: f"{r['namespace']}/{r['name']}"),
    ("MODEL", lambda r: r["model"]),
    ("REVISION", lambda r: r["current_revision"]),
    (
        "VERSION",
        lambda r: next((v["model_version"] for v in r["revisions"] if v["number"] == r["current_revision"]), "-"),
    ),
    (
        "CANARY",
        lambda r: next(
            (f"r{v['number']} v{v['model_version']} {v['weight']}%" for v in r["revisions"] if v["status"] == "canary"),
            "-",
        ),
    ),
    ("READY", lambda r: f"{r['ready_replicas']}/{r['replicas']}"),
    ("STATUS", lambda r: r["status"]),
]
ATTEMPT_COLUMNS = [
    ("SUBMITTED", lambda r: r["submitted_at"]),
    ("JOB", lambda r: r["job_id"]),
    ("RUN", lambda r: r["run_id"]),
    ("ATTEMPT", lambda r: r["attempt"]),
    ("STATUS", lambda r: r["status"]),
    ("REASON", lambda r: r.get("reason")),
    ("EXIT", lambda r: r.get("exit_code")),
    ("RUNTIME(s)", lambda r: r["runtime_seconds"]),
    ("COST", lambda r: r["cost"]),
    ("CATEGORY", lambda r: r.get("category")),
    ("ACTION", lambda r: r.get("action")),
    ("RULE", lambda r: r.get("rule_id")),
    ("EVIDENCE", lambda r: (r.get("evidence") or "")[:100] or None),
]
SIGNATURE_COLUMNS = [
    ("#", lambda r: r["rank"]),
    ("COUNT", lambda r: r["count"]),
    ("LAST SEEN", lambda r: r["last_seen"]),
    ("JOBS", lambda r: ",".join(r["jobs"][:3]) + ("…" if len(r["jobs"]) > 3 else "")),
    ("SIGNATURE", lambda r: r["signature"][:120]),
]
CLASSIFY_COLUMNS = [
    ("PATH", lambda r: r["path"]),
    ("CATEGORY", lambda r: r["category"]),
    ("ACTION", lambda r: r["action"]),
    ("RULE", lambda r: r["rule_id"]),
    ("LINE", lambda r: r["evidence_line"]),
    ("EVIDENCE", lambda r: (r["evidence"] or "")[:100] or None),
]
RULE_COLUMNS = [
    ("#", lambda r: r["n"]),
    ("ID", lambda r: r["id"]),
    ("CATEGORY", lambda r: r["category"]),
    ("ACTION", lambda r: r["action"]),
    ("SOURCE", lambda r: r["source"].rsplit("/", 1)[-1]),
    ("DESCRIPTION", lambda r: r["description"][:80]),
]
MODEL_COLUMNS = [
    ("MODEL", lambda r: r["model"]),
    ("VERSION", lambda r: r["version"]),
    ("ALIASES", lambda r: ",".join(r["aliases"]) or "-"),
    ("STAGE", lambda r: r["stage"]),
    ("FRAMEWORK", lambda r: r["framework"]),
    ("ACCURACY", lambda r: r["metrics"].get("accuracy", "-")),
    ("PARENT", lambda r: r["parent"]),
    ("SHA256", lambda r: r["sha256"][:12]),
    ("CREATED", lambda r: r["created_at"]),
]
DRIFT_COLUMNS = [
    ("NODE", lambda r: r["node"]),
    ("POOL", lambda r: r["pool"]),
    ("OBSERVED", lambda r: r["observed"]),
    ("DESIRED", lambda r: r["desired"]),
    ("CORDONED", lambda r: r["unschedulable"]),
]
OP_COLUMNS = [
    ("ID", lambda r: r["id"]),
    ("KIND", lambda r: r["kind"]),
    ("TARGET", lambda r: r["target"]),
    ("STATE", lambda r: r["state"]),
    ("PROGRESS", lambda r: ",".join(f"{k}={v}" for k, v in r["progress"].items())),
    ("USER", lambda r: r["user"]),
    ("UPDATED", lambda r: r["updated_at"]),
    ("ERROR", lambda r: (r["error"] or "")[:60] or None),
]
AUDIT_COLUMNS = [
    ("SEQ", lambda r: r["seq"]),
    ("TIME", lambda r: r["timestamp"]),
    ("USER", lambda r: r["user"]),
    ("VERB", lambda r: r["verb"]),
    ("OBJECT", lambda r: object_name(r["object_ref"])),
    ("STAGE", lambda r: r["stage"]),
    ("AUDIT ID", lambda r: r["audit_id"][:8]),
]
HISTORY_SOURCE_COLUMNS = [
    ("SOURCE", lambda r: r["source"]),
    ("RECORDS", lambda r: r["records"]),
    ("JOBS", lambda r: r["jobs"]),
    ("FAILED", lambda r: r["failed"]),
    ("FIRST", lambda r: r["first"]),
    ("LAST", lambda r: r["last"]),
    ("IMPORTED", lambda r: r["imported_at"]),
]
HISTORY_COLUMNS = [
    ("SUBMITTED", lambda r: r["submitted_at"]),
    ("JOB", lambda r: r["job_id"]),
    ("RUN", lambda r: r["run_id"]),
    ("ATTEMPT", lambda r: r["attempt"]),
    ("STATUS", lambda r: r["status"]),
    ("RUNTIME(s)", lambda r: r["runtime_seconds"]),
    ("COST", lambda r: r["cost"]),
    ("SOURCE", lambda r: r["source"]),
]
SUGGESTION_COLUMNS = [
    ("ID", lambda r: r["id"]),
    ("JOB", lambda r: r["job_id"]),
    ("RUN", lambda r: r["run_id"]),
    ("CATEGORY", lambda r: r["category"]),
    ("ACTION", lambda r: r["action"]),
    ("CHANGE", lambda r: r["change"] or None),
    ("P(OK)", lambda r: None if r["p_success"] is None else probability_text(r["p_success"])),
    ("COST", lambda r: None if r["cost_increase"] is None else f"{r['cost_increase']:+.0%}"),
    ("MODEL", lambda r: r["model"]),
    ("STATUS", lambda r: r["status"]),
    ("OUTCOME", lambda r: r["outcome"] or ("running" if r["retry_run_id"] else None)),
]
