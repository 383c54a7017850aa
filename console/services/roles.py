"""Which role each action needs: one table for the CLI, the TUI and the engine.

viewer < operator < admin. Reading needs no role. An action missing here cannot be authorised (a
KeyError in the tests that walk every action), so a new mutation has to be placed in the table.
"""

from __future__ import annotations

RANK = {"viewer": 0, "operator": 1, "admin": 2}

ACTIONS: dict[str, str] = {
    # nodes
    "cordon": "operator",
    "uncordon": "operator",
    "label": "operator",
    "taint": "operator",
    "drain": "operator",
    "apply-config": "admin",
    # rollouts and the operations they run as
    "rollout-start": "operator",
    "rollout-promote": "operator",
    "rollout-abort": "operator",
    "rollout-rollback": "admin",
    "scale": "operator",
    "op-pause": "operator",
    "op-resume-rollout": "operator",
    "op-resume-pool-config": "admin",
    "op-rollback": "admin",
    # triage rules and the recommender
    "rule-add": "operator",
    "history-import": "operator",
    "recommender-train": "operator",
    # the model lifecycle
    "model-train": "operator",
    "model-compress": "operator",
    "model-alias": "operator",
    "gate-force": "admin",  # an alias moved, or a rollout started, past a failed gate
    "model-retrain": "operator",  # the drift → retrain pipeline: train, gate, register, canary
    # monitoring
    "alert-silence": "operator",
    "fault-inject": "operator",  # the embedded estate's injected errors, latency and drift
    # the approval queue
    "autofix-reconcile": "operator",
    "approve": "operator",
    "reject": "operator",
    "edit": "operator",
    # audit
    "audit-rollback": "admin",
}

#: what each action is called in a refusal ("read-only: <what> is not allowed")
WHAT = {
    "cordon": "cordon",
    "uncordon": "uncordon",
    "label": "labelling a node",
    "taint": "tainting a node",
    "drain": "drain",
    "apply-config": "changing a pool's node config",
    "rollout-start": "starting a rollout",
    "model-retrain": "retraining a model",
    "alert-silence": "silencing an alert",
    "fault-inject": "injecting faults",
    "rollout-promote": "promote",
    "rollout-abort": "abort",
    "rollout-rollback": "rolling back a deployment",
    "scale": "scaling a deployment",
    "op-pause": "pausing an operation",
    "op-resume-rollout": "resuming an operation",
    "op-resume-pool-config": "resuming an operation",
    "op-rollback": "rolling back an operation",
    "rule-add": "saving a rule",
    "history-import": "importing history",
    "recommender-train": "training the recommender",
    "model-train": "training a model",
    "model-compress": "compressing a model",
    "model-alias": "moving a model alias",
    "gate-force": "overriding the model gate",
    "autofix-reconcile": "reconciling the approval queue",
    "approve": "approving a retry",
    "reject": "rejecting a suggestion",
    "edit": "editing a suggestion",
    "audit-rollback": "rolling back a change",
}


def allows(role: str, action: str) -> bool:
    return RANK[role] >= RANK[ACTIONS[action]]
