"""The approval queue from the command line: suggestions for the demo's recent failures, approve (the retry
goes to the backend through the audit path), edit, reject, the policy, read-only, and outcomes that become
training data. A small recommender is trained once per session on the simulator's Spark world."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import DB_NAME, PINNED_NOW, Cli, copy_home, doomed_past

FAST = {"MLOPS_CONSOLE_SIM_JOB_SECONDS": "0"}


@pytest.fixture
def home(trained_home, tmp_path, cli):
    """A private copy of the trained estate, its queue filled by one reconcile."""
    home = copy_home(trained_home, tmp_path / "home")
    reconcile(cli, home)
    return home


def queue(cli: Cli, home, *args: str, **kw) -> list[dict]:
    """The queue as `autofix queue` shows it: a read."""
    return json.loads(cli.ok("--home", str(home), "autofix", "queue", "-o", "json", *args, env=FAST, **kw).out)


def reconcile(cli: Cli, home, *args: str, **kw) -> dict:
    """The queue's write step: outcomes recorded, new failures queued, policies applied; its report."""
    return json.loads(cli.ok("--home", str(home), *args, "autofix", "reconcile", "-o", "json", env=FAST, **kw).out)


def audit_of(cli: Cli, home, verb: str) -> list[dict]:
    return [e for e in json.loads(cli.ok("--home", str(home), "audit", "list", "-o", "json").out) if e["verb"] == verb]


def memory_suggestion(items: list[dict]) -> dict:
    return next(s for s in items if s["category"] == "memory_exceeded" and s["model"])


def test_looking_at_the_queue_writes_nothing_and_says_what_a_reconcile_would_queue(cli, home_copy):
    r = cli.ok("--home", str(home_copy), "autofix", "queue", "-o", "json")
    assert json.loads(r.out) == [] and "not queued yet" in r.err and "autofix reconcile" in r.err
    with sqlite3.connect(home_copy / DB_NAME) as db:
        assert db.execute("SELECT count(*) FROM suggestions").fetchone()[0] == 0
    assert not audit_of(cli, home_copy, "retry")


def test_without_a_model_memory_failures_wait_and_plain_retries_are_queued(cli, home_copy):
    r = cli.ok("--home", str(home_copy), "autofix", "reconcile", "-o", "json")
    report = json.loads(r.out)
    assert report["queued"] > 0 and report["waiting_for_model"] > 0 and report["auto_applied"] == []
    assert "wait for a trained recommender" in r.err and "autofix train --history" in r.err
    r = cli.ok("--home", str(home_copy), "autofix", "queue", "-o", "json")
    items = json.loads(r.out)
    assert len(items) == report["queued"] and all(s["status"] == "pending" and s["model"] is None for s in items)
    assert {s["action"] for s in items} <= {"retry", "retry_later", "retry_with_conf"}
    assert not any(s["category"] == "memory_exceeded" for s in items)
    assert "wait for a trained recommender" in r.err and "not queued yet" not in r.err
    # reconciling again queues nothing twice
    assert reconcile(cli, home_copy)["queued"] == 0
    assert [s["id"] for s in queue(cli, home_copy)] == [s["id"] for s in items]


def test_a_memory_suggestion_shows_diff_probability_cost_alternatives_and_model(cli, home):
    s = memory_suggestion(queue(cli, home))
    assert s["action"] == "retry_with_conf" and s["conf"]
    assert all(s["conf_before"].get(k) != v for k, v in s["conf"].items())  # only what changes
    assert 0 <= s["p_success"] <= 1 and s["expected_cost"] > 0 and s["base_cost"] > 0
    assert s["model"] == "retry-recommender:1"
    assert s["evidence"] and s["rule_id"]
    assert len(s["alternatives"]) == 2 and all("conf" in a and "p_success" in a for a in s["alternatives"])
    shown = cli.ok("--home", str(home), "autofix", "show", str(s["id"])).out
    assert "alternatives:" in shown and "diff:" in shown and s["evidence"][:40] in shown


def test_approve_submits_the_retry_through_the_audit_path_and_records_its_outcome(cli, home):
    s = memory_suggestion(queue(cli, home))
    r = cli.ok("--home", str(home), "--as", "dana", "autofix", "approve", str(s["id"]), "-o", "json", env=FAST)
    done = json.loads(r.out)
    assert done["status"] == "approved" and done["decided_by"] == "dana" and done["retry_run_id"]
    retry = json.loads(cli.ok("--home", str(home), "jobs", "show", done["retry_run_id"], "-o", "json").out)
    assert retry["attempt"] == 2 and retry["conf"] == {**s["conf_before"], **s["conf"]}
    trail = [e for e in audit_of(cli, home, "retry") if e["annotations"]["suggestion"] == s["id"]]
    assert [e["stage"] for e in trail] == ["ResponseComplete", "RequestReceived"]
    assert trail[0]["user"] == "dana" and trail[0]["annotations"]["model"] == "retry-recommender:1"
    assert [a["run_id"] for a in trail[0]["after"]["attempts"]] == [s["run_id"], done["retry_run_id"]]
    # the retry has finished: the next reconcile records how it went
    assert reconcile(cli, home)["outcomes"] == 1
    decided = {x["id"]: x for x in queue(cli, home, "--all")}
    assert decided[s["id"]]["outcome"] in ("succeeded", "failed")
    again = cli("--home", str(home), "autofix", "approve", str(s["id"]), env=FAST)
    assert again.rc == 1 and "already approved by dana" in again.err
    # a retry is not rolled back by writing the old state back
    rb = cli("--home", str(home), "audit", "rollback", str(trail[0]["seq"]))
    assert rb.rc == 2 and "cannot be rolled back" in rb.err


def test_edit_rescores_and_the_approved_retry_uses_the_edited_config(cli, home):
    s = memory_suggestion(queue(cli, home))
    # not a size; sizes no executor has (a bare number is MiB, as Spark reads this key)
    # and what Spark would refuse at submit: a fraction, a unit it does not know, bytes under a MiB key
    for typo in ("lots", "99999g", "600000", "1.5g", "512MiB", "4096b"):
        bad = cli("--home", str(home), "autofix", "edit", str(s["id"]), f"spark.executor.memory={typo}")
        assert bad.rc == 2 and f"field spark.executor.memory: '{typo}'" in bad.err and "Traceback" not in bad.err
        assert ("a size Spark takes" in bad.err) == (typo in ("1.5g", "512MiB"))
    assert next(x for x in queue(cli, home) if x["id"] == s["id"])["conf"] == s["conf"]  # nothing half-done
    r = cli.ok(
        "--home",
        str(home),
        "autofix",
        "edit",
        str(s["id"]),
        "spark.executor.memory=24g",
        "spark.sql.shuffle.partitions=1600",
        "-o",
        "json",
    )
    edited = json.loads(r.out)
    assert edited["status"] == "pending" and edited["edited_by"]
    assert edited["conf"]["spark.executor.memory"] == "24g" and edited["conf"]["spark.sql.shuffle.partitions"] == "1600"
    assert edited["p_success"] is not None and edited["expected_cost"] != s["expected_cost"]
    assert audit_of(cli, home, "edit")[0]["after"]["conf"] == edited["conf"]
    done = json.loads(cli.ok("--home", str(home), "autofix", "approve", str(s["id"]), "-o", "json", env=FAST).out)
    retry = json.loads(cli.ok("--home", str(home), "jobs", "show", done["retry_run_id"], "-o", "json").out)
    assert retry["conf"]["spark.executor.memory"] == "24g"


def test_an_edit_of_a_non_spark_job_refuses_spark_settings(cli, home):
    s = next(x for x in queue(cli, home) if "resources.cpu" in x["conf_before"])  # a PyTorch or Python job
    bad = cli("--home", str(home), "autofix", "edit", str(s["id"]), "spark.executor.memory=8g")
    assert bad.rc == 2 and "spark.executor.memory is a Spark setting" in bad.err and s["run_id"] in bad.err
    assert next(x for x in queue(cli, home) if x["id"] == s["id"])["conf"] == s["conf"]  # nothing written
    edited = json.loads(
        cli.ok("--home", str(home), "autofix", "edit", str(s["id"]), "resources.memory=8g", "-o", "json").out
    )
    assert edited["conf"]["resources.memory"] == "8g" and edited["action"] == "retry_with_conf"


def test_reject_needs_a_reason_and_is_kept_with_it(cli, home):
    s = queue(cli, home)[0]
    blank = cli("--home", str(home), "autofix", "reject", str(s["id"]), "--reason", "  ")
    assert blank.rc == 2 and "reason" in blank.err
    done = json.loads(
        cli.ok("--home", str(home), "autofix", "reject", str(s["id"]), "--reason", "owner reruns it", "-o", "json").out
    )
    assert done["status"] == "rejected" and done["reason"] == "owner reruns it"
    assert audit_of(cli, home, "reject")[0]["after"] == {"status": "rejected", "reason": "owner reruns it"}
    assert s["id"] not in [x["id"] for x in queue(cli, home)]
    missing = cli("--home", str(home), "autofix", "approve", "9999")
    assert missing.rc == 2 and "no suggestion 9999" in missing.err


def test_read_only_shows_the_queue_and_writes_nothing(cli, trained_home, tmp_path):
    home = copy_home(trained_home, tmp_path / "home")
    r = cli.ok("--home", str(home), "--read-only", "autofix", "queue", "-o", "json")
    assert json.loads(r.out) == [] and "read-only" in r.err
    refused = cli("--home", str(home), "--read-only", "autofix", "reconcile")
    assert refused.rc == 3 and "read-only" in refused.err
    with sqlite3.connect(home / DB_NAME) as db:
        assert db.execute("SELECT count(*) FROM suggestions").fetchone()[0] == 0
    reconcile(cli, home)
    s = queue(cli, home)[0]
    denied = cli("--home", str(home), "--read-only", "autofix", "approve", str(s["id"]))
    assert denied.rc == 3 and "approving a retry" in denied.err


def test_a_policy_applies_what_it_allows_as_the_policy_on_behalf_of_the_operator(cli, trained_home, tmp_path):
    home = copy_home(trained_home, tmp_path / "home")
    config = tmp_path / "config.toml"
    config.write_text('[[autofix_policy]]\nname = "transient"\ncategory = "node_lost"\nmin_p_success = 0\n')
    r = cli.ok("--home", str(home), "--config", str(config), "autofix", "reconcile", "-o", "json", env=FAST)
    report = json.loads(r.out)
    assert "applied by policy transient" in r.err
    items = queue(cli, home, "--all")
    applied = [s for s in items if s["status"] == "auto_applied"]
    assert applied and all(s["category"] == "node_lost" for s in applied)
    assert sorted(a["id"] for a in report["auto_applied"]) == sorted(s["id"] for s in applied)
    assert all(s["status"] == "pending" for s in items if s["category"] != "node_lost")
    trail = audit_of(cli, home, "retry")
    assert trail[0]["user"] == "policy:transient" and trail[0]["annotations"]["on_behalf_of"]
    config.write_text('[[autofix_policy]]\ncategory = "memory_exceded"\n')
    bad = cli("--home", str(home), "--config", str(config), "autofix", "reconcile")
    assert bad.rc == 2 and "memory_exceded" in bad.err and str(config) in bad.err


def test_outcomes_of_approved_retries_become_training_data(cli, home, tmp_path):
    s = memory_suggestion(queue(cli, home))
    cli.ok("--home", str(home), "autofix", "approve", str(s["id"]), env=FAST)
    reconcile(cli, home)  # records the outcome
    world = tmp_path / "w.jsonl"
    world.write_text(cli.ok("autofix", "world", "--jobs", "30", "--days", "15", "--world-seed", "3").out)
    out = json.loads(cli.ok("--home", str(home), "autofix", "train", "--history", str(world)).out)
    assert out["version"] == 2 and out["metrics"]["outcome_records"] == 2


def test_a_kill_between_intent_and_submission_leaves_the_suggestion_pending_and_recorded_as_failed(cli, home):
    s = memory_suggestion(queue(cli, home))
    r = cli(
        "--home",
        str(home),
        "autofix",
        "approve",
        str(s["id"]),
        env={**FAST, "MLOPS_CONSOLE_CRASH_AT": "after-intent:1"},
    )
    assert r.rc == 137
    cli.ok("--home", str(home), "version")  # the next start settles what the kill left
    trail = [e for e in audit_of(cli, home, "retry") if e["annotations"].get("suggestion") == s["id"]]
    assert [e["stage"] for e in trail] == ["Failed", "RequestReceived"]
    assert next(x for x in queue(cli, home) if x["id"] == s["id"])["status"] == "pending"


def test_the_dashboards_count_of_failures_to_queue_is_what_a_look_at_the_queue_queues(home_copy, monkeypatch, tmp_path):
    from console.engine import Engine
    from console.settings import load

    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED_NOW)
    engine = Engine(load({"home": str(home_copy)}))
    before, waiting = engine.failures_to_queue()
    with_tries = [a for a in engine.attempts(failed=True) if a.attempt < 3 and a.submitted_at >= "2026-11-19T12:00:00Z"]
    assert before < len(with_tries)  # the demo has failures no retry fixes (user code): not counted
    report = engine.autofix_reconcile()
    assert before == report["queued"] + report["waiting_for_model"] > 0
    assert waiting == report["waiting_for_model"] > 0
    assert engine.failures_to_queue()[0] == report["waiting_for_model"]  # those wait for a model


def test_training_on_the_simulators_world_gives_the_queue_a_model(home_copy, monkeypatch, tmp_path):
    from console.engine import Engine
    from console.settings import load

    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED_NOW)
    engine = Engine(load({"home": str(home_copy)}))
    out = engine.train_on_world(seed=5, jobs=25, days=12)
    assert out["model"] == "retry-recommender" and out["version"] == 1
    report = engine.autofix_reconcile()
    items = engine.autofix_queue()
    assert report["waiting_for_model"] == 0 and any(s.model == "retry-recommender:1" for s in items)


def test_a_run_retried_by_other_means_is_not_submitted_again(cli, home, monkeypatch, tmp_path):
    from console.settings import load

    s = queue(cli, home)[0]
    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED_NOW)
    from console.backend import open_cluster

    by_hand = open_cluster(load({"home": str(home)})).submit_retry(s["run_id"], s["conf_before"])
    r = cli("--home", str(home), "autofix", "approve", str(s["id"]), env=FAST)
    assert r.rc == 1 and f"already retried as {by_hand.run_id}" in r.err
    settled = next(x for x in queue(cli, home, "--all") if x["id"] == s["id"])
    assert settled["status"] == "retried" and settled["retry_run_id"] == by_hand.run_id
    assert not [e for e in audit_of(cli, home, "retry") if e["annotations"].get("suggestion") == s["id"]]


def test_an_approval_is_not_relabelled_retried_elsewhere_by_a_refresh_running_beside_it(
    cli, home, monkeypatch, tmp_path
):
    """The TUI refreshes the queue in one worker while another approves: the refresh read the suggestion as
    pending before the approval, and sees the approved retry as a later attempt after it."""
    from console.engine import Engine
    from console.settings import load

    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED_NOW)
    s = memory_suggestion(queue(cli, home))
    engine = Engine(load({"home": str(home)}))
    approvals = engine._w.approvals  # the queue's own machinery: the race is inside it
    stale = approvals.queue.list("pending")  # what the refresh read first
    engine.approve(s["id"])
    monkeypatch.setattr(approvals.queue, "list", lambda status=None: stale)
    approvals.mark_retried_elsewhere()  # ... and what it did after the approval went through
    assert engine.suggestion(s["id"]).status == "approved"


def test_a_memory_failure_the_recommender_calls_doomed_is_shown_as_no_retry_and_not_approved(
    cli, trained_home, tmp_path
):
    home = copy_home(trained_home, tmp_path / "home")
    peek = copy_home(home, tmp_path / "peek")
    reconcile(cli, peek)
    first = memory_suggestion(queue(cli, peek))
    failed = json.loads(cli.ok("--home", str(home), "jobs", "show", first["run_id"], "-o", "json").out)
    (tmp_path / "past.jsonl").write_text(json.dumps(doomed_past(failed)) + "\n")
    cli.ok("--home", str(home), "autofix", "import", str(tmp_path / "past.jsonl"))
    reconcile(cli, home)
    s = next(x for x in queue(cli, home) if x["run_id"] == first["run_id"])
    assert s["action"] == "no_retry" and s["status"] == "pending" and s["model"] == "retry-recommender:1"
    assert s["p_success"] < 0.5 and s["alternatives"] and "advises no retry" in s["note"]
    r = cli("--home", str(home), "autofix", "approve", str(s["id"]), env=FAST)
    assert r.rc == 2 and "advises no retry" in r.err and "Traceback" not in r.err
    assert not audit_of(cli, home, "retry")
    # a person may still retry it, with a config of their own
    edited = json.loads(
        cli.ok("--home", str(home), "autofix", "edit", str(s["id"]), "spark.executor.instances=4", "-o", "json").out
    )
    assert edited["action"] == "retry_with_conf" and edited["status"] == "pending"
    # the note that asked for the edit is settled by it: who edited, what the advice was
    assert edited["note"].startswith("edited by ") and "had advised no retry" in edited["note"]
    assert "edit it" not in edited["note"]


def test_a_failure_that_needs_a_config_change_nobody_suggested_is_not_approved_as_it_is(cli, home):
    s = next(x for x in queue(cli, home) if x["action"] == "retry_with_conf" and not x["conf"])
    r = cli("--home", str(home), "autofix", "approve", str(s["id"]), env=FAST)
    assert r.rc == 2 and "needs a config change" in r.err and f"autofix edit {s['id']}" in r.err
    assert next(x for x in queue(cli, home) if x["id"] == s["id"])["status"] == "pending"
    assert not audit_of(cli, home, "retry")


@pytest.mark.parametrize(("p", "shown"), [(0.9996, ">0.99"), (0.995, ">0.99"), (0.994, "0.99"), (0.003, "<0.01")])
def test_the_queue_never_rounds_a_probability_to_certainty(cli, home, p, shown):
    """A model's P(success) of 0.9996 is not a promise: the table a person reads says >0.99, not 1.00."""
    s = memory_suggestion(queue(cli, home))
    with sqlite3.connect(home / DB_NAME) as db:
        db.execute("UPDATE suggestions SET p_success = ? WHERE id = ?", (p, s["id"]))
    row = next(
        line
        for line in cli.ok("--home", str(home), "autofix", "queue").out.splitlines()
        if line.split()[0] == str(s["id"])
    )
    assert shown in row.split() and "1.00" not in row.split()
