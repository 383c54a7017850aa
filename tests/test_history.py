"""`autofix import`: history records in, bad lines named by number, nothing half-written."""

from __future__ import annotations

import json

import pytest

GOOD = {
    "job_id": "etl-daily-sales",
    "run_id": "h-1",
    "attempt": 1,
    "submitted_at": "2026-11-01T03:00:00Z",
    "kind": "spark",
    "input_bytes": 53687091200,
    "conf": {
        "spark.executor.memory": "4g",
        "spark.executor.memoryOverhead": "1g",
        "spark.executor.cores": "4",
        "spark.executor.instances": "20",
        "spark.sql.shuffle.partitions": "200",
        "spark.driver.memory": "2g",
        "spark.custom.flag": "kept",
    },
    "status": "failed",
    "log_tail": "java.lang.OutOfMemoryError: Java heap space",
    "runtime_seconds": 812.4,
    "cost": 3.91,
    "team": "sales",
}


def write(path, *lines) -> str:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return str(path)


def test_records_are_imported_with_unknown_fields_and_conf_keys_kept(cli, tmp_path):
    f = write(
        tmp_path / "h.jsonl",
        GOOD,
        {**GOOD, "run_id": "h-2", "attempt": 2, "status": "succeeded", "conf": {"spark.executor.memory": "6g"}},
    )
    out = cli.ok("--home", str(tmp_path / "home"), "autofix", "import", f, "--format", "json").json()
    assert out["imported"] == 2 and out["skipped"] == 0 and out["replaced"] == 0
    kept = cli.ok(
        "--home", str(tmp_path / "home"), "autofix", "history", "--job", "etl-daily-sales", "--format", "json"
    ).json()
    rec = next(r for r in kept if r["run_id"] == "h-1")
    assert rec["conf"]["spark.custom.flag"] == "kept" and rec["team"] == "sales" and rec["source"] == "import:h.jsonl"
    # training data, not the cluster's jobs: the cluster's attempts are as they were
    assert cli("--home", str(tmp_path / "home"), "jobs", "show", "h-1").rc == 2
    # importing again replaces, never duplicates, and says so
    again = cli.ok("--home", str(tmp_path / "home"), "autofix", "import", f)
    assert "imported 2 records" in again.out and "(2 replaced earlier records of the same job and run_id)" in again.out
    runs = cli.ok(
        "--home", str(tmp_path / "home"), "autofix", "history", "--job", "etl-daily-sales", "--format", "json"
    ).json()
    assert sum(r["run_id"].startswith("h-") for r in runs) == 2
    sources = cli.ok("--home", str(tmp_path / "home"), "autofix", "history", "--format", "json").json()
    assert [(s["source"], s["records"]) for s in sources] == [("import:h.jsonl", 2)]
    # each import is an audited change, named like any other object, with the file it came from
    audited = [
        e
        for e in cli.ok("--home", str(tmp_path / "home"), "audit", "list", "--format", "json").json()
        if e["verb"] == "import"
    ]
    assert [e["object_ref"]["name"] for e in audited] == ["h.jsonl", "h.jsonl"]
    assert audited[0]["after"] == {"records": 2, "replaced": 2, "skipped": 0}
    assert audited[0]["annotations"]["path"] == str((tmp_path / "h.jsonl").resolve())
    table = cli.ok("--home", str(tmp_path / "home"), "audit", "list").out
    assert "history/h.jsonl" in table and "history//" not in table


@pytest.mark.parametrize(
    "bad, needle",
    [
        ("{not json", "not JSON"),
        ({**GOOD, "conf": {"spark.executor.memory": "-4g"}}, "conf['spark.executor.memory']: not a size"),
        ({**GOOD, "conf": {"spark.executor.memory": "four gigs"}}, "not a size"),
        # bytes where Spark reads MiB: a 4-PiB heap
        ({**GOOD, "conf": {"spark.executor.memory": "4294967296"}}, "more than 512g (a bare number is MiB"),
        ({**GOOD, "conf": {"spark.driver.maxResultSize": float("inf")}}, "conf['spark.driver.maxResultSize']: "),
        ({**GOOD, "conf": {"spark.executor.cores": "0"}}, "conf['spark.executor.cores']: must be at least 1"),
        ({**GOOD, "kind": "training", "conf": {"resources.gpus": "-1"}}, "conf['resources.gpus']: must be at least 0"),
        ({**GOOD, "input_bytes": -1}, "'input_bytes' must not be negative"),
        ({k: v for k, v in GOOD.items() if k != "run_id"}, "missing field 'run_id'"),
        ({**GOOD, "attempt": "one"}, "field 'attempt' must be int"),
        ({**GOOD, "status": "exploded"}, "field 'status' must be one of"),
        ({**GOOD, "log_tail": None}, "needs its 'log_tail'"),
        ({**GOOD, "submitted_at": "yesterday"}, "not an ISO time"),
    ],
)
def test_bad_lines_are_named_by_number_and_skipped_or_fatal(cli, tmp_path, bad, needle):
    f = write(tmp_path / "h.jsonl", GOOD, bad, {**GOOD, "run_id": "h-3"})
    home = str(tmp_path / "home")
    r = cli("--home", home, "autofix", "import", f)
    assert r.rc == 0 and "imported 2 records" in r.out and "skipped 1" in r.out
    assert f"{f}:2: " in r.err and needle in r.err
    r = cli("--home", str(tmp_path / "strict"), "autofix", "import", f, "--strict")
    assert r.rc == 2 and f"{f}:2: " in r.err and needle in r.err and "Traceback" not in r.err
    listed = cli.ok("--home", str(tmp_path / "strict"), "jobs", "list", "--format", "json").json()
    assert not any(x["run_id"].startswith("h-") for x in listed)  # strict: nothing written


def test_a_cpu_only_training_job_with_zero_gpus_is_imported(cli, tmp_path):
    f = write(tmp_path / "h.jsonl", {**GOOD, "kind": "training", "conf": {"resources.gpus": "0", "resources.cpu": "8"}})
    out = cli.ok("--home", str(tmp_path / "home"), "autofix", "import", f, "--strict", "--format", "json").json()
    assert out["imported"] == 1 and out["skipped"] == 0


def test_invalid_utf8_line_is_reported(cli, tmp_path):
    f = tmp_path / "h.jsonl"
    f.write_bytes(json.dumps(GOOD).encode() + b"\n\xff\xfe{}\n")
    r = cli("--home", str(tmp_path / "home"), "autofix", "import", str(f))
    assert r.rc == 0 and f"{f}:2: not UTF-8" in r.err


def test_import_is_refused_read_only_and_for_missing_files(cli, tmp_path):
    f = write(tmp_path / "h.jsonl", GOOD)
    assert cli("--home", str(tmp_path / "home"), "--read-only", "autofix", "import", f).rc == 3
    r = cli("--home", str(tmp_path / "home"), "autofix", "import", str(tmp_path / "nope.jsonl"))
    assert r.rc == 2 and "nope.jsonl: no such file" in r.err


def test_importing_a_world_of_history_leaves_the_clusters_jobs_as_they_were(cli, home_copy, tmp_path):
    """Imported history is training data: `jobs list` shows the cluster's attempts, before and after."""
    before = cli.ok("--home", str(home_copy), "jobs", "list", "--format", "json").json()
    world = tmp_path / "h.jsonl"
    world.write_text(cli.ok("autofix", "world", "--jobs", "20", "--days", "10").out)
    report = cli.ok("--home", str(home_copy), "autofix", "import", str(world), "--format", "json").json()
    assert report["imported"] > 100
    after = cli.ok("--home", str(home_copy), "jobs", "list", "--format", "json").json()
    assert [a["run_id"] for a in after] == [a["run_id"] for a in before]
    kept = cli.ok("--home", str(home_copy), "autofix", "history", "--format", "json").json()
    assert [(k["source"], k["records"]) for k in kept] == [("import:h.jsonl", report["imported"])]


def test_the_same_run_id_on_two_jobs_is_two_records(cli, tmp_path):
    """Schedulers that number runs per job reuse run ids across jobs: an import keeps both."""
    home = str(tmp_path / "home")
    f = write(tmp_path / "a.jsonl", GOOD, {**GOOD, "job_id": "etl-daily-clicks"})
    out = cli.ok("--home", home, "autofix", "import", f, "--format", "json").json()
    assert out["imported"] == 2 and out["replaced"] == 0
    kept = cli.ok("--home", home, "autofix", "history", "--format", "json").json()
    assert [(k["records"], k["jobs"]) for k in kept] == [(2, 2)]
