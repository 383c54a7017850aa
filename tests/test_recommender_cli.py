"""The recommender's CLI contract (issue 5, in progress): train → a registered version; recommend → one
line per input with the contract's keys; a missing or corrupt model is refused with what to do."""

from __future__ import annotations

import json

import pytest

from core.backends.sim import spark_estates as estates
from core.backends.sim import spark_world as w

KEYS = {"run_id", "category", "rule_id", "action", "conf", "p_success", "expected_cost", "note"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("world")
    records, _ = w.history(5, n_jobs=25, days=20)
    (d / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    failed = [r for r in records if r["status"] == "failed"][-12:]
    (d / "failed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in failed))
    return d


@pytest.fixture(scope="module")
def trained(files, tmp_path_factory):
    """A home whose first recommender dana trained on the files' history, and what the training printed
    (one training for the module: each takes a quarter of a minute)."""
    from conftest import Cli

    root = tmp_path_factory.mktemp("trained")
    out = Cli(root / "cli").ok(
        "--home", str(root / "h"), "--as", "dana", "autofix", "train", "--history", str(files / "history.jsonl")
    )
    return root / "h", out.json()


def test_recommend_without_a_model_says_how_to_train_one(cli, tmp_path, files):
    r = cli("--home", str(tmp_path / "h"), "autofix", "recommend", str(files / "failed.jsonl"))
    assert r.rc == 2 and "autofix train --history" in r.err


def test_train_registers_a_version_and_recommend_answers_every_line(cli, tmp_path, files, trained):
    from conftest import copy_home

    home = str(copy_home(trained[0], tmp_path / "h"))
    out = trained[1]
    assert out["model"] == "retry-recommender" and out["version"] == 1
    assert out["metrics"]["chosen"] in ("torch-mlp", "sklearn-linear")
    versions = cli.ok("--home", home, "models", "list", "--model", "retry-recommender", "--format", "json").json()
    assert [v["stage"] for v in versions] == ["production"] and len(versions[0]["sha256"]) == 64
    r = cli.ok("--home", home, "autofix", "recommend", str(files / "failed.jsonl"))
    lines = [json.loads(x) for x in r.out.splitlines()]
    assert len(lines) == 12
    for d in lines:
        assert set(d) == KEYS and d["action"] in ("retry", "retry_with_conf", "retry_later", "no_retry")
        if d["action"] == "retry_with_conf":
            assert d["conf"] and 0 <= d["p_success"] <= 1 and d["expected_cost"] > 0
    # a second training makes version 2 the production one
    cli.ok("--home", home, "autofix", "train", "--history", str(files / "history.jsonl"))
    stages = {
        v["version"]: v["stage"]
        for v in cli.ok("--home", home, "models", "list", "--model", "retry-recommender", "--format", "json").json()
    }
    assert stages == {2: "production", 1: "archived"}
    # the evaluation judges the newest version beside both baselines, on the world's truth
    small = ("--jobs", "60", "--days", "20")  # (the default world takes a minute on a loaded machine)
    ev = cli.ok("--home", home, "autofix", "evaluate", "--seed", "3", *small, "--format", "json").json()
    assert ev["model"] == "retry-recommender:2" and ev["fixable_memory_failures"] > 0 and ev["seed"] == 3
    # calibration: the recommended retries of the held-out period, and the training's validation split
    for table in (ev["reliability"], ev["validation_reliability"]):
        assert table and all(0 <= b["predicted"] <= 1 and 0 <= b["observed"] <= 1 and b["n"] > 0 for b in table)
    # its expected calibration error: the bins' gaps weighted by their share of the retries
    gaps = sum(b["n"] * abs(b["predicted"] - b["observed"]) for b in ev["reliability"])
    assert ev["ece"] == pytest.approx(gaps / sum(b["n"] for b in ev["reliability"]), abs=1e-4)
    assert 0 <= ev["floor_retries"] <= sum(b["n"] for b in ev["reliability"])  # floors are retries too
    assert 0 <= ev["past_sla_retries"] <= sum(b["n"] for b in ev["reliability"])  # and so are late ones
    assert set(ev["policies"]) == {"recommender", "vpa_bump", "double_memory"}
    for p in ev["policies"].values():
        assert 0 <= p["first_retry_fix_rate"] <= 1 and p["episode_spend_vs_cheapest"] > 0
    # decisions on the rest, the same measure for all three: the baselines bump every memory failure,
    # so they are wrong on exactly those nothing fixes
    assert ev["policies"]["recommender"]["decision_accuracy"] == ev["decision_accuracy"]
    baseline = 1 - ev["memory_failures_nothing_fixes"] / ev["other_failures"]
    assert ev["policies"]["vpa_bump"]["decision_accuracy"] == pytest.approx(baseline, abs=1e-4)
    table = cli.ok("--home", home, "autofix", "evaluate", "--seed", "3", *small, "--format", "table").out
    assert "VPA-style bump" in table and "double all memory" in table and "decisions right" in table and "ECE" in table
    # a corrupt artifact is refused by its checksum
    v2 = next(
        m
        for m in cli.ok("--home", home, "models", "list", "-o", "json").json()
        if m["model"] == "retry-recommender" and m["version"] == 2
    )
    artifact = tmp_path / "h" / "artifacts" / "retry-recommender" / f"{v2['sha256']}.pt"  # named by its content
    artifact.write_bytes(artifact.read_bytes()[:-10] + b"0123456789")
    r = cli("--home", home, "autofix", "recommend", str(files / "failed.jsonl"))
    assert r.rc != 0 and "corrupt" in r.err and "Traceback" not in r.err


def test_a_new_version_is_audited_and_a_moved_home_keeps_its_model(cli, tmp_path, files, trained):
    import shutil

    from conftest import copy_home

    home = copy_home(trained[0], tmp_path / "h")
    registered = [
        e for e in cli.ok("--home", str(home), "audit", "list", "-o", "json").json() if e["verb"] == "register"
    ]
    assert [(e["user"].split()[0], e["object_ref"]["name"], e["after"]["version"]) for e in registered] == [
        ("dana", "retry-recommender", 1)
    ]
    # the registry names the artifact inside the home: a copy answers with its own, the original gone
    moved = tmp_path / "moved"
    shutil.copytree(home, moved)
    shutil.rmtree(home)
    r = cli.ok("--home", str(moved), "autofix", "recommend", str(files / "failed.jsonl"))
    assert len(r.out.splitlines()) == 12
    # a file of the right checksum that is not the tensors this version writes (a pickled object here)
    # is refused unread, and nothing suggests loading it unsafely
    import datetime
    import hashlib
    import sqlite3

    import torch

    artifact = next((moved / "artifacts" / "retry-recommender").glob("*.pt"))
    torch.save({"meta_json": datetime.date(2026, 1, 1)}, artifact)
    db = sqlite3.connect(moved / "console.db")
    db.execute("UPDATE model_versions SET sha256 = ?", (hashlib.sha256(artifact.read_bytes()).hexdigest(),))
    db.commit()
    db.close()
    r = cli("--home", str(moved), "autofix", "recommend", str(files / "failed.jsonl"))
    assert r.rc == 1 and "is not a tensor file" in r.err and "weights_only" not in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_recommend_takes_failed_attempts_only_and_names_the_line_of_any_other(cli, tmp_path, files):
    mixed = tmp_path / "mixed.jsonl"
    failed = (files / "failed.jsonl").read_text().splitlines()
    ok = json.dumps({**json.loads(failed[0]), "run_id": "fine-1", "status": "succeeded"})
    mixed.write_text("\n".join([failed[0], ok, failed[1]]) + "\n")
    r = cli("--home", str(tmp_path / "h"), "autofix", "recommend", str(mixed))
    assert r.rc == 2 and f"{mixed}:2: status 'succeeded'" in r.err and r.out == ""
    r = cli("--home", str(tmp_path / "h"), "autofix", "recommend", str(tmp_path))
    assert r.rc == 2 and "is a directory" in r.err
    (tmp_path / "none.jsonl").write_text("")
    r = cli.ok("--home", str(tmp_path / "h"), "autofix", "recommend", str(tmp_path / "none.jsonl"))
    assert r.out == ""  # nothing to decide: no line, not an empty one


def test_the_world_command_draws_other_estates_and_randomized_physics(cli, tmp_path):
    """`autofix world --estate random` writes a world whose physics and log dialect come from its seed — the
    history to train on before `autofix evaluate --estate random` judges on another seed."""

    def world(*extra):
        out = cli.ok(
            "--home",
            str(tmp_path / "h"),
            "autofix",
            "world",
            "--world-seed",
            "610",
            "--jobs",
            "8",
            "--days",
            "6",
            *extra,
        ).out
        return [json.loads(line) for line in out.splitlines()]

    default, random_world = world(), world("--estate", "random")
    assert default == world("--estate", "default") and random_world == world("--estate", "random")
    assert random_world != default and world("--estate", "other") != default
    assert estates.random_estate(610)["physics"].dialect == "kubernetes"
    failed = [r for r in random_world if r["status"] == "failed"]
    assert any("SparkContext: Running Spark version" in r["log_tail"] for r in failed)


def test_the_world_command_writes_an_estates_own_past_to_train_on(cli, tmp_path):
    """`autofix world --before-held-out` writes the runs before the period `autofix evaluate` judges on the
    same world, and only those: training on it never sees an outcome the evaluation then judges."""
    from console.lab.evaluate import held_out_cut

    args = ("--home", str(tmp_path / "h"), "autofix", "world", "--world-seed", "7", "--jobs", "12", "--days", "8")
    whole = [json.loads(line) for line in cli.ok(*args).out.splitlines()]
    past = [json.loads(line) for line in cli.ok(*args, "--before-held-out").out.splitlines()]
    cut = held_out_cut(whole)
    assert past == [r for r in whole if r["submitted_at"] < cut]
    assert 0 < len(past) < len(whole) and max(r["submitted_at"] for r in past) < cut
