"""The failure taxonomy of DESIGN.md: category ids are part of the CLI contract."""

from __future__ import annotations

CATEGORIES: dict[str, str] = {  # id -> default action
    "memory_exceeded": "retry_with_conf",
    "disk_exhausted": "retry_with_conf",
    "shuffle_fetch_failed": "retry",
    "node_lost": "retry",
    "network_transient": "retry",
    "storage_throttled": "retry_later",
    "missing_input": "retry_later",
    "permission_denied": "no_retry",
    "schema_mismatch": "no_retry",
    "user_code_error": "no_retry",
    "timeout": "retry_with_conf",
    "image_pull_failed": "no_retry",
    "gpu_failure": "retry",
}
UNCLASSIFIED = "unclassified"
TAXONOMY = tuple(CATEGORIES) + (UNCLASSIFIED,)
ACTIONS = ("retry", "retry_with_conf", "retry_later", "no_retry")
