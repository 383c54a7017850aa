"""The embedded simulator: deterministic from (seed, scale, clock), persisted, and shaped like the design says."""

from __future__ import annotations

import re
import string
from collections import Counter
from datetime import timedelta

import pytest
from conftest import PINNED_NOW, REPO

from core import clock
from core.backends.sim import parse_scale
from core.backends.sim.estate import GiB, parse_mem
from core.backends.sim.logs import LogTemplate, load_templates
from core.errors import BadInput
from core.taxonomy import TAXONOMY

TEMPLATES = load_templates(REPO / "fixtures" / "logs")


def template_regex(t: LogTemplate) -> re.Pattern:
    parts = []
    for literal, name, _spec, _conv in string.Formatter().parse(t.body):
        parts.append(re.escape(literal))
        if name is not None:
            parts.append(r".*?")
    return re.compile("".join(parts), re.DOTALL)


MATCHERS = [(t, template_regex(t)) for ts in TEMPLATES.values() for t in ts]


def category_of(attempt: dict) -> str | None:
    """The category of the template a failed attempt's log tail was made from (None: no template fits)."""
    for t, rx in MATCHERS:
        if attempt["kind"] in t.kinds and rx.fullmatch(attempt["log_tail"]):
            return t.category
    return None


def H(home) -> tuple[str, str]:
    return ("--home", str(home))


# -- determinism -------------------------------------------------------------------------------------
def test_same_seed_and_clock_give_the_same_estate(cli, tmp_path, demo_home):
    a, b = tmp_path / "a", tmp_path / "b"
    for listing in (
        ["jobs", "list", "--format", "json"],
        ["nodes", "list", "--format", "json"],
        ["rollouts", "list", "--format", "json"],
        ["models", "list", "--format", "json"],
    ):
        out_a = cli.ok(*H(a), *listing).out
        out_b = cli.ok(*H(b), *listing).out
        assert out_a == out_b, listing
        # and the session's estate, built by another process, is the same too
        assert cli.ok(*H(demo_home), *listing).out == out_a, listing


def test_a_listing_is_the_same_whether_the_failures_were_classified_before_or_not(cli, tmp_path):
    fresh, reconciled = tmp_path / "fresh", tmp_path / "reconciled"
    cli.ok(*H(reconciled), "autofix", "reconcile")  # classifies every failure and stores the results
    listing = ["jobs", "list", "--format", "json"]
    assert cli.ok(*H(reconciled), *listing).out == cli.ok(*H(fresh), *listing).out


def test_another_seed_gives_other_attempts(cli, tmp_path, demo_attempts):
    other = cli.ok(*H(tmp_path / "s7"), "--seed", "7", "jobs", "list", "--format", "json").json()
    assert cli.ok(*H(tmp_path / "s7"), "version").out.count("(seed 7)") == 1
    assert other != demo_attempts
    failed = lambda xs: {a["run_id"] for a in xs if a["status"] == "failed"}  # noqa: E731
    assert failed(other) != failed(demo_attempts)


def test_estate_survives_a_restart_with_a_later_clock(cli, home_copy, demo_attempts):
    later = cli.ok(
        *H(home_copy), "jobs", "list", "--format", "json", env={"MLOPS_CONSOLE_NOW": "2026-12-01T08:00:00Z"}
    ).json()
    assert later == demo_attempts


# -- the shape of the demo estate --------------------------------------------------------------------
def test_demo_nodes(session_cli, demo_home):
    nodes = session_cli.ok(*H(demo_home), "nodes", "list", "--format", "json").json()
    per_pool = Counter(n["pool"] for n in nodes)
    assert sum(per_pool.values()) == 40 and len(per_pool) == 3
    assert min(per_pool.values()) >= 4
    # the incidents the demo shows: a node not ready, one cordoned, some under pressure
    assert any(not n["ready"] for n in nodes)
    assert any(n["unschedulable"] for n in nodes)
    assert any(v == "True" for n in nodes for k, v in n["conditions"].items() if k != "Ready")
    # GPUs only in the GPU pool
    assert all((n["gpus"] > 0) == (n["pool"] == next(p for p in per_pool if "gpu" in p)) for n in nodes)


def test_demo_attempts_cover_seven_days_before_the_clock(demo_attempts):
    now = clock.parse_ts(PINNED_NOW)
    stamps = [clock.parse_ts(a["submitted_at"]) for a in demo_attempts]
    assert max(stamps) <= now
    assert min(stamps) >= now - timedelta(days=7, hours=1)
    assert max(stamps) >= now - timedelta(hours=6)


def test_failure_rate_is_between_5_and_15_percent(demo_attempts):
    first = [a for a in demo_attempts if a["attempt"] == 1]
    rate = sum(a["status"] == "failed" for a in first) / len(first)
    assert 0.05 <= rate <= 0.15, rate
    total = sum(a["status"] == "failed" for a in demo_attempts) / len(demo_attempts)
    assert 0.05 <= total <= 0.15, total


def test_failed_attempts_carry_varied_realistic_logs(demo_failed):
    tails = [a["log_tail"] for a in demo_failed]
    assert len(set(tails)) == len(tails)  # each failure has its own hosts, ids, times
    assert len({(a["exit_code"], a["reason"]) for a in demo_failed}) >= 4
    assert all(a["exit_code"] not in (0, None) for a in demo_failed)


def test_every_failed_log_comes_from_a_template_of_its_kind(demo_failed):
    unmatched = [a["run_id"] for a in demo_failed if category_of(a) is None]
    assert not unmatched, unmatched[:5]
    # exit code and reason are those of the template the log came from
    for a in demo_failed:
        fits = [t for t, rx in MATCHERS if a["kind"] in t.kinds and rx.fullmatch(a["log_tail"])]
        assert len({t.category for t in fits}) == 1, (a["run_id"], {t.category for t in fits})
        assert any((t.exit_code, t.reason) == (a["exit_code"], a["reason"]) for t in fits), a["run_id"]


def test_failures_cover_the_whole_taxonomy(demo_failed):
    """The demo shows every failure category of the CLI contract at least once."""
    seen = {category_of(a) for a in demo_failed}
    missing = [c for c in TAXONOMY if c not in seen]
    no_template = [c for c in TAXONOMY if c not in TEMPLATES]
    assert not missing, f"categories never seen: {missing} (no log template in fixtures/logs: {no_template})"


def test_retries_follow_their_failed_first_attempt(demo_attempts):
    by_run = {a["run_id"]: a for a in demo_attempts}
    retries = [a for a in demo_attempts if a["attempt"] == 2]
    assert retries
    for r in retries:
        first = by_run[r["run_id"].rsplit("-", 1)[0]]
        assert first["status"] == "failed" and first["job_id"] == r["job_id"]
        assert r["submitted_at"] > first["submitted_at"]
        if category_of(first) == "memory_exceeded":
            key = next(k for k in ("spark.executor.memory", "resources.memory") if k in first["conf"])
            assert parse_mem(r["conf"][key]) > parse_mem(first["conf"][key])
            assert parse_mem(r["conf"][key]) % GiB == 0


# -- scale ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", ["42", "2", "7"])
def test_scale_builds_exactly_what_was_asked_deterministically(cli, tmp_path, seed):
    scale = ("--seed", seed, "--scale", "nodes=300,jobs=2000")
    outs = []
    for name in ("a", "b"):
        nodes = cli.ok(*H(tmp_path / name), *scale, "nodes", "list", "--format", "json")
        jobs = cli.ok(*H(tmp_path / name), *scale, "jobs", "list", "--format", "json")
        outs.append((nodes.out, jobs.out))
        assert len(nodes.json()) == 300
        assert len(jobs.json()) == 2000
    assert outs[0] == outs[1]


def test_scaled_home_refuses_another_scale(cli, tmp_path):
    home = tmp_path / "scaled"
    cli.ok(*H(home), "--scale", "nodes=60,jobs=300", "version")
    assert len(cli.ok(*H(home), "nodes", "list", "--format", "json").json()) == 60  # no --scale: reuse
    assert len(cli.ok(*H(home), "--scale", "nodes=60,jobs=300", "nodes", "list", "--format", "json").json()) == 60
    r = cli(*H(home), "--scale", "nodes=80,jobs=300", "nodes", "list")
    assert r.rc == 2 and "Traceback" not in r.err and r.out == ""
    assert "--scale" in r.err and str(home) in r.err and "nodes=60,jobs=300" in r.err
    assert len(r.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", {}),
        ("nodes=10", {"nodes": 10}),
        ("nodes=10000,jobs=100000", {"nodes": 10000, "jobs": 100000}),
        (" jobs=5 , nodes=3 ", {"jobs": 5, "nodes": 3}),
    ],
)
def test_parse_scale(text, expected):
    assert parse_scale(text) == expected


@pytest.mark.parametrize(
    "text", ["nodes", "nodes=", "nodes=x", "nodes=0", "nodes=-4", "gpus=3", "nodes=10;jobs=4", "nodes=99999999999"]
)
def test_parse_scale_rejects(text):
    with pytest.raises(BadInput) as e:
        parse_scale(text)
    assert "--scale" in str(e.value)


# -- retries ----------------------------------------------------------------------------------------
STAMP = re.compile(r"\b(\d\d/\d\d/\d\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")


def _stamp(text: str):
    from datetime import UTC, datetime

    if "T" in text:
        return clock.parse_ts(text)
    return datetime.strptime(text, "%y/%m/%d %H:%M:%S").replace(tzinfo=UTC)


def test_a_retry_that_fails_the_same_way_logs_only_its_own_lines(home_copy, monkeypatch, tmp_path):
    from console.backend import open_cluster
    from console.settings import load

    monkeypatch.setenv("MLOPS_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED_NOW)
    cluster = open_cluster(load({"home": str(home_copy)}))
    first = next(a for a in cluster.list_attempts(failed=True) if a.reason == "Evicted" and a.attempt == 1)
    key = "spark.executor.memory" if first.kind == "spark" else "resources.memory"
    for gib in range(5, 40):  # a plain retry fixes an eviction 7 times in 10: the first one that does not
        retry = cluster.submit_retry(first.run_id, {**first.conf, key: f"{gib}g"})
        if cluster.store.one("SELECT status FROM attempts WHERE run_id = ?", (retry.run_id,))["status"] == "failed":
            break
    else:
        pytest.fail("no retry failed")
    monkeypatch.setenv("MLOPS_CONSOLE_NOW", clock.iso(clock.parse_ts(PINNED_NOW) + timedelta(hours=1)))
    assert cluster.get_attempt(retry.run_id).status == "failed"  # finished: its log is whole
    log = cluster.attempt_log(retry.run_id)
    assert "Warning Evicted" in log  # it failed the same way…
    # …and every line of it is the retry's: none stamped before it was submitted, none naming the first pod
    stamps = [_stamp(s) for s in STAMP.findall(log)]
    assert stamps and min(stamps) >= clock.parse_ts(retry.submitted_at)
    assert f"-{first.run_id}-driver" not in log
    assert f"pod/{first.job_id}-{retry.run_id}-driver" in log


# -- the model registry's lineage ---------------------------------------------------------------------
def _created_after_parent(versions) -> list[str]:
    """What breaks lineage: a version created no later than its parent, or a higher number created
    before a lower one of the same model."""
    by_key = {(v.model, v.version): v for v in versions}
    bad = []
    for v in versions:
        if v.parent:
            model, number = v.parent.rsplit(":", 1)
            parent = by_key[(model, int(number))]
            if not parent.created_at < v.created_at:
                bad.append(
                    f"{v.model} v{v.version} ({v.created_at}) not after its parent v{number} ({parent.created_at})"
                )
    for a in versions:
        for b in versions:
            if a.model == b.model and a.version < b.version and not a.created_at < b.created_at:
                bad.append(f"{b.model} v{b.version} ({b.created_at}) not after v{a.version} ({a.created_at})")
    return bad


def test_every_version_in_the_demo_registry_is_created_after_its_parent(tmp_path, clean_env, monkeypatch):
    """In the registry as a new demo home adopts it (churn-gbm v5 was created before its parent v4)."""
    from console.engine import Engine
    from console.settings import load

    monkeypatch.setenv("MLOPS_CONSOLE_NOW", PINNED_NOW)
    versions = Engine(load({"home": str(tmp_path / "home")})).models()
    assert versions and not _created_after_parent(versions)


@pytest.mark.parametrize("seed", range(12))
def test_the_simulators_model_versions_are_chronological_for_any_seed(seed):
    from core.backends.sim.estate import EstateBuilder
    from core.types import ModelVersion

    builder = EstateBuilder(REPO / "fixtures", seed, {}, clock.parse_ts(PINNED_NOW))
    _deps, _revs, versions = builder.deployments()
    assert not _created_after_parent([ModelVersion(**v) for v in versions])
