"""Triage from the command line: the built-in rules, `classify`, `rules`, signatures, rules from signatures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO
from test_sim import category_of

from core.taxonomy import ACTIONS, TAXONOMY

BUILTIN = REPO / "autofix" / "rules.toml"
# The taxonomy table of DESIGN.md, verbatim: category ids are part of the CLI contract.
DESIGN_TAXONOMY = [
    "memory_exceeded",
    "disk_exhausted",
    "shuffle_fetch_failed",
    "node_lost",
    "network_transient",
    "storage_throttled",
    "missing_input",
    "permission_denied",
    "schema_mismatch",
    "user_code_error",
    "timeout",
    "image_pull_failed",
    "gpu_failure",
    "unclassified",
]


def H(home) -> tuple[str, str]:
    return ("--home", str(home))


def test_taxonomy_ids_are_exactly_the_designs():
    assert list(TAXONOMY) == DESIGN_TAXONOMY


def test_builtin_rules_pass_their_own_check(session_cli):
    r = session_cli.ok("rules", "check", str(BUILTIN))
    assert r.out.strip().endswith(": ok")


def test_builtin_rules_cover_every_category_with_60_or_more_rules(session_cli, demo_home):
    rules = session_cli.ok(*H(demo_home), "rules", "list", "--format", "json").json()
    assert len(rules) >= 60
    assert {r["category"] for r in rules} == set(DESIGN_TAXONOMY) - {"unclassified"}
    assert all(r["action"] in ACTIONS and r["examples"] for r in rules)


def test_every_demo_failure_is_classified_as_what_it_is(session_cli, demo_home, demo_failed):
    records = session_cli.ok(*H(demo_home), "jobs", "list", "--failed", "--format", "json").json()
    assert len(records) == len(demo_failed)
    wrong = []
    for r in records:
        assert r["category"] in TAXONOMY
        if r["category"] != category_of(r):
            wrong.append((r["run_id"], category_of(r), r["category"], r["rule_id"], r["evidence"]))
        if r["category"] != "unclassified":
            assert r["rule_id"] and r["evidence"] and r["action"] in ACTIONS
    assert not wrong, wrong[:5]


def test_jobs_show_carries_the_triage(session_cli, demo_home, demo_failed):
    run_id = demo_failed[0]["run_id"]
    rec = session_cli.ok(*H(demo_home), "jobs", "show", run_id, "--format", "json").json()
    assert {"category", "rule_id", "action", "evidence", "fields"} <= rec.keys()
    yaml = session_cli.ok(*H(demo_home), "jobs", "show", run_id).out
    assert "triage:" in yaml and "events:" in yaml


def test_classify_files_and_stdin(session_cli, tmp_path):
    oom = tmp_path / "oom.log"
    oom.write_text(
        "26/11/20 03:14:07 INFO Executor: Running task 1.0\n"
        "26/11/20 03:14:09 ERROR Executor: Exception in task 1.0 in stage 3.0 (TID 7)\n"
        "java.lang.OutOfMemoryError: Java heap space\n\tat java.util.Arrays.copyOf(Arrays.java:3332)\n"
    )
    quiet = tmp_path / "quiet.log"
    quiet.write_text("all is well\n")
    out = session_cli.ok("classify", str(oom), str(quiet), "--format", "json").json()
    assert [o["path"] for o in out] == [str(oom), str(quiet)]
    assert {"path", "category", "rule_id", "action", "evidence", "fields"} <= out[0].keys()
    assert out[0]["category"] == "memory_exceeded" and "OutOfMemoryError" in out[0]["evidence"]
    assert out[1]["category"] == "unclassified" and out[1]["rule_id"] is None
    import subprocess
    import sys

    p = subprocess.run(
        [sys.executable, "-m", "console", "classify", "-", "--format", "jsonl"],
        input=oom.read_bytes(),
        capture_output=True,
        env=session_cli.env,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["category"] == "memory_exceeded"


def test_classify_missing_file_exits_2(session_cli, tmp_path):
    r = session_cli("classify", str(tmp_path / "nope.log"))
    assert r.rc == 2 and "nope.log" in r.err and "Traceback" not in r.err


@pytest.mark.parametrize(
    "body, needle",
    [
        ('patterns = ["(oops"]', "invalid regex"),
        ('patterns = ["x"]\ncategory2 = 1', "unknown field 'category2'"),
    ],
)
def test_bad_rules_file_exits_2_naming_file_rule_and_problem(session_cli, tmp_path, body, needle):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[[rule]]\nid = "broken-one"\ncategory = "timeout"\naction = "retry"\n{body}\n')
    log = tmp_path / "x.log"
    log.write_text("x\n")
    for args in (["rules", "check", str(bad)], ["classify", str(log), "--rules", str(bad)]):
        r = session_cli(*args)
        assert r.rc == 2, args
        assert str(bad) in r.err and "'broken-one'" in r.err and needle in r.err
        assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


def test_rules_check_reports_failing_examples(session_cli, tmp_path):
    f = tmp_path / "r.toml"
    f.write_text(
        '[[rule]]\nid = "heap"\ncategory = "memory_exceeded"\naction = "retry_with_conf"\n'
        'patterns = ["Java heap space"]\nexamples = ["GC overhead limit exceeded"]\n'
        'counter_examples = ["java.lang.OutOfMemoryError: Java heap space"]\n'
    )
    r = session_cli("rules", "check", str(f))
    assert r.rc == 2
    assert f"{f}: rule 'heap': example 1 does not match" in r.err
    assert f"{f}: rule 'heap': counter-example 1 matches" in r.err


def test_rules_test_shows_the_winner_and_every_match(session_cli, tmp_path):
    f = tmp_path / "r.toml"
    f.write_text(
        '[[rule]]\nid = "first"\ncategory = "timeout"\naction = "retry"\npatterns = ["deadline"]\n\n'
        '[[rule]]\nid = "second"\ncategory = "node_lost"\naction = "retry"\npatterns = ["lost"]\n'
    )
    log = tmp_path / "l.log"
    log.write_text("executor lost\ndeadline exceeded\n")
    out = session_cli.ok("rules", "test", str(f), str(log), "--format", "json").json()
    assert out["rule_id"] == "first" and out["evidence_line"] == 2
    assert out["matching_rules"] == ["first", "second"]


def test_signature_to_rule_is_previewed_saved_audited_and_reclassifies(cli, home_copy):
    sigs = cli.ok(*H(home_copy), "jobs", "signatures", "--format", "json").json()
    failed = cli.ok(*H(home_copy), "jobs", "list", "--failed", "--format", "json").json()
    unclassified = [f for f in failed if f["category"] == "unclassified"]
    assert sigs and sum(s["count"] for s in sigs) == len(unclassified)
    top = sigs[0]
    # preview only: nothing is written
    out = cli.ok(
        *H(home_copy),
        "rules",
        "new",
        "--from-signature",
        "1",
        "--category",
        "user_code_error",
        "--id",
        "my-first-rule",
        "--format",
        "json",
    ).json()
    assert out["saved"] is False and out["preview"]["matches"] >= top["count"]
    rules_file = Path(out["file"])
    assert not rules_file.exists()
    # read-only refuses with exit 3
    r = cli(*H(home_copy), "--read-only", "rules", "new", "--from-signature", "1", "--id", "my-first-rule", "--yes")
    assert r.rc == 3 and "read-only" in r.err and not rules_file.exists()
    # saved: the rule file gains it, the audit trail has intent and outcome, the failures are reclassified
    out = cli.ok(
        *H(home_copy),
        "--as",
        "carol",
        "rules",
        "new",
        "--from-signature",
        "1",
        "--id",
        "my-first-rule",
        "--yes",
        "--format",
        "json",
    ).json()
    assert out["saved"] is True and "my-first-rule" in rules_file.read_text()
    events = cli.ok(*H(home_copy), "audit", "list", "--format", "json").json()
    mine = [e for e in events if e["object_ref"].get("name") == "my-first-rule"]
    assert [e["stage"] for e in mine] == ["ResponseComplete", "RequestReceived"] and mine[0]["user"] == "carol"
    assert cli.ok(*H(home_copy), "rules", "list", "--format", "json").json()[0]["id"] == "my-first-rule"
    after = {f["run_id"]: f for f in cli.ok(*H(home_copy), "jobs", "list", "--failed", "--format", "json").json()}
    assert all(after[r]["rule_id"] == "my-first-rule" for r in top["run_ids"])
    assert all(after[r]["category"] == "user_code_error" for r in top["run_ids"])


def test_a_broken_user_rule_file_keeps_the_last_good_set(cli, home_copy):
    cli.ok(*H(home_copy), "rules", "new", "--from-signature", "1", "--id", "kept-rule", "--yes")
    rules_file = Path(cli.ok(*H(home_copy), "rules", "list", "--format", "json").json()[0]["source"])
    rules_file.write_text(rules_file.read_text() + '\n[[rule]]\nid = "kept-rule"\ncategory = "nope"\n')
    r = cli(*H(home_copy), "jobs", "list", "--failed", "--format", "json")
    assert r.rc == 0, r.err
    assert "warning:" in r.err and str(rules_file) in r.err and "last good rule set" in r.err
    assert any(rec["rule_id"] == "kept-rule" for rec in json.loads(r.out))
    # and checking that file names the problem, exit 2
    r = cli("rules", "check", str(rules_file))
    assert r.rc == 2 and "kept-rule" in r.err
