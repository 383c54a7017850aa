"""The model lifecycle (issue 20): deterministic training with a data digest, a registry whose versions
carry their provenance and whose aliases move through the gate as audited, reversible changes, refusal
of a tampered artifact, data validation that blocks a training, and compression into a child version."""

from __future__ import annotations

import csv
import json

import pytest

from core.lifecycle import data as D

# one worker runs the module (make test: --dist loadgroup): its home is trained once, not once per worker
pytestmark = pytest.mark.xdist_group("models-lifecycle")


@pytest.fixture(scope="module")
def home(demo_home, tmp_path_factory):
    """The demo estate with digits-cnn v1 (production: what its digit-reader serves, trained on the
    estate's first start) and v2 (v1 pruned 0.5 and int8, by erin): made through the engine, in this
    process, once for the module; the tests drive the CLI."""
    from conftest import copy_home

    from console.engine import Engine
    from console.settings import load

    h = copy_home(demo_home, tmp_path_factory.mktemp("lifecycle") / "h")
    engine = Engine(load({"home": str(h), "user": "erin"}))
    out = engine.model_compress("digits-cnn", "production", prune=0.5, quantize="int8")
    engine.close()
    return h, out


def _engine(h: str, user: str = "erin"):
    """The engine on a home, in this process: for the set-up a test needs, not for what it checks (the CLI
    is what those tests drive; each CLI process pays torch's import)."""
    from console.engine import Engine
    from console.settings import load

    return Engine(load({"home": h, "user": user}))


def _copy(home, tmp_path):
    from conftest import copy_home

    return str(copy_home(home[0], tmp_path / "h"))


def test_a_version_records_its_provenance_and_lists_with_its_aliases(cli, tmp_path, home):
    h = _copy(home, tmp_path)
    rows = cli.ok("--home", h, "models", "list", "--model", "digits-cnn", "-o", "json").json()
    by = {r["version"]: r for r in rows}
    assert {"name", "version", "aliases", "created_at", "metrics"} <= set(by[1])
    assert by[1]["aliases"] == ["production"] and by[2]["aliases"] == []
    assert by[2]["created_by"] == "erin" and by[1]["metrics"]["accuracy"] >= 0.95
    assert by[2]["parent"] == "digits-cnn:1" and by[2]["created_at"] >= by[1]["created_at"]
    shown = cli.ok("--home", h, "models", "show", "digits-cnn", "2", "-o", "json").json()
    assert shown["lineage"] == ["digits-cnn:2", "digits-cnn:1"]
    assert shown["environment"]["torch"].startswith("2.13") and any(
        p.startswith("torch==") for p in shown["environment"]["lock"]
    )
    assert len(shown["sha256"]) == 64 and shown["artifact_uri"].endswith(shown["sha256"] + ".pt")
    assert shown["data_digest"] == D.bundled("digits").digest()


def test_the_same_seed_and_data_give_the_same_version_and_a_changed_row_another_digest(tmp_path, home):
    engine = _engine(_copy(home, tmp_path))
    a = engine.model_train("cancer-mlp", params={"epochs": "5"}, seed=3)
    b = engine.model_train("cancer-mlp", params={"epochs": "5"}, seed=3)
    assert a["metrics"] == b["metrics"] and b["version"] == a["version"] + 1
    assert a["sha256"] == b["sha256"]  # the same weights, byte for byte
    # one value of one row changed: another digest, for the registry as for the data
    bundled = D.bundled("breast_cancer")
    path = tmp_path / "cancer.csv"
    _write_csv(path, bundled, change=(7, 0, bundled.X[7][0] * 1.01))
    c = engine.model_train("cancer-mlp", params={"epochs": "5"}, seed=3, data_path=str(path))
    versions = {v.version: v for v in engine.models("cancer-mlp")}
    assert versions[a["version"]].data_digest == versions[b["version"]].data_digest == bundled.digest()
    assert versions[c["version"]].data_digest != bundled.digest()
    engine.close()


def test_data_that_fails_validation_blocks_the_training_and_registers_nothing(cli, tmp_path, home):
    h = _copy(home, tmp_path)  # cancer-mlp v1 is production: what the demo's cancer-screen serves
    bundled = D.bundled("breast_cancer")
    path = tmp_path / "drifted.csv"
    # a feature recorded in other units (×1000) and one with empty cells
    shifted = D.Data(
        [[v * 1000 if j == 0 else v for j, v in enumerate(row)] for row in bundled.X], bundled.y, bundled.names, "x"
    )
    _write_csv(path, shifted, blank=(3, 5))
    r = cli("--home", h, "models", "train", "cancer-mlp", "--data", str(path))
    assert r.rc == 2 and "data validation failed" in r.err
    assert f"{bundled.names[0]}:" in r.err and "outside the reference" in r.err and "missing" in r.err
    assert [
        v["version"] for v in cli.ok("--home", h, "models", "list", "--model", "cancer-mlp", "-o", "json").json()
    ] == [1]
    report = cli("--home", h, "models", "validate", "cancer-mlp", "--data", str(path), "-o", "json").json()
    assert report["passed"] is False and report["reference"] == "cancer-mlp:1" and len(report["problems"]) == 2


def test_a_bad_csv_is_named_by_file_and_line(cli, tmp_path, home):
    path = tmp_path / "bad.csv"
    bundled = D.bundled("breast_cancer")
    _write_csv(path, bundled)
    lines = path.read_text().splitlines()
    lines[4] = lines[4].replace(",", ",oops,", 1)
    path.write_text("\n".join(lines) + "\n")
    r = cli("--home", _copy(home, tmp_path), "models", "train", "cancer-mlp", "--data", str(path))
    assert r.rc == 2 and f"{path}:5:" in r.err and "Traceback" not in r.err


def test_a_tampered_artifact_is_refused_and_fails_the_gate(cli, tmp_path, home):
    h = _copy(home, tmp_path)
    shown = cli.ok("--home", h, "models", "show", "digits-cnn", "1", "-o", "json").json()
    artifact = tmp_path / "h" / "artifacts" / shown["artifact_uri"]
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    r = cli("--home", h, "models", "evaluate", "digits-cnn", "1")
    assert r.rc == 1 and "is not the registered" in r.err
    g = cli("--home", h, "models", "gate", "digits-cnn", "1", "-o", "json")
    assert g.rc == 1 and [c["passed"] for c in json.loads(g.out)["checks"] if c["name"] == "artifact"] == [False]


def test_compression_meets_the_size_and_accuracy_goal_and_passes_the_gate(cli, tmp_path, home):
    out = home[1]
    assert out["parent"] == "digits-cnn:1" and out["version"] == 2
    # size is deterministic (latency is measured in bench/compress.py, never asserted here)
    assert out["size_bytes"]["before"] >= 4 * out["size_bytes"]["after"]
    assert out["accuracy"]["after"] >= out["accuracy"]["before"] - 0.01
    h = _copy(home, tmp_path)
    assert cli.ok("--home", h, "models", "gate", "digits-cnn", "2", "-o", "json").json()["passed"] is True
    assert (
        cli.ok("--home", h, "models", "evaluate", "digits-cnn", "2", "-o", "json").json()["accuracy"]
        == out["accuracy"]["after"]
    )


def test_the_gate_refuses_a_child_that_drops_too_much_and_only_force_moves_the_alias(cli, tmp_path, home):
    h = _copy(home, tmp_path)
    engine = _engine(h)
    child = engine.model_compress("digits-cnn", "1", prune=0.97)
    engine.close()
    assert child["accuracy"]["after"] < child["accuracy"]["before"] - 0.01
    g = cli("--home", h, "models", "gate", "digits-cnn", str(child["version"]), "-o", "json")
    failed = {c["name"] for c in json.loads(g.out)["checks"] if not c["passed"]}
    assert g.rc == 1 and failed == {"evaluation", "compression"} and "did not pass the gate" in g.err
    r = cli("--home", h, "models", "alias", "digits-cnn", "canary", str(child["version"]))
    assert r.rc == 1 and "compression:" in r.err
    forced = cli.ok(
        "--home",
        h,
        "--as",
        "root",
        "models",
        "alias",
        "digits-cnn",
        "canary",
        str(child["version"]),
        "--force",
        "-o",
        "json",
    ).json()
    assert forced["version"] == child["version"] and forced["gate"]["passed"] is False
    [event] = [e for e in cli.ok("--home", h, "audit", "list", "-o", "json").json() if e["verb"] == "alias"][:1]
    assert event["annotations"]["forced"] is True and event["annotations"]["gate"].startswith("failed")


def test_a_rollout_takes_a_version_only_through_the_gate(cli, tmp_path, home):
    h = _copy(home, tmp_path)
    engine = _engine(h)
    worse = engine.model_train("cancer-mlp", params={"epochs": "1"})  # the demo serves v1, trained for 60
    engine.close()
    start = (
        "--home",
        h,
        "rollouts",
        "start",
        "cancer-screen",
        "cancer-mlp",
        str(worse["version"]),
        "--steps",
        "50,100",
    )
    r = cli(*start)
    assert r.rc == 1 and "did not pass the gate — evaluation: accuracy" in r.err, r.err
    ops = cli.ok("--home", h, "ops", "list", "-o", "json").json()
    assert "deployment/cancer-screen" not in {op["target"] for op in ops}  # refused before anything was made
    forced = cli.ok(*start, "--force", "-o", "json").json()
    assert forced["params"]["gate"] == "forced past a failed gate: evaluation"
    event = next(e for e in cli.ok("--home", h, "audit", "list", "-o", "json").json() if e["verb"] == "rollout-start")
    assert event["annotations"]["gate"] == forced["params"]["gate"]
    # a version the console holds no artifact of (the cluster's own) starts unjudged, and says so
    theirs = cli.ok("--home", h, "rollouts", "start", "fraud-scorer", "fraud-xgb", "9", "-o", "json").json()
    assert theirs["params"]["gate"].startswith("not judged: the console holds no artifact")


def test_moving_an_alias_is_audited_and_rolls_back(cli, tmp_path, home):
    h = _copy(home, tmp_path)
    moved = cli.ok("--home", h, "--as", "erin", "models", "alias", "digits-cnn", "production", "2", "-o", "json").json()
    assert (moved["was"], moved["version"]) == (1, 2)
    event = next(e for e in cli.ok("--home", h, "audit", "list", "-o", "json").json() if e["verb"] == "alias")
    assert event["user"] == "erin" and event["object_ref"] == {
        "resource": "model-alias",
        "name": "digits-cnn/production",
    }
    assert (event["before"]["version"], event["after"]["version"]) == (1, 2)
    stages = {
        r["version"]: r["stage"]
        for r in cli.ok("--home", h, "models", "list", "--model", "digits-cnn", "-o", "json").json()
    }
    assert stages == {1: "archived", 2: "production"}  # the version production left is no candidate
    cli.ok("--home", h, "audit", "rollback", str(event["seq"]))
    prod = cli.ok("--home", h, "models", "show", "digits-cnn", "production", "-o", "json").json()
    assert prod["version"] == 1 and cli.ok("--home", h, "audit", "verify").rc == 0


def test_compare_shows_what_differs_between_two_versions(cli, tmp_path, home):
    h = _copy(home, tmp_path)
    c = cli.ok("--home", h, "models", "compare", "digits-cnn", "production", "2", "-o", "json").json()
    assert c["versions"] == [1, 2] and c["lineage"][1] == ["digits-cnn:2", "digits-cnn:1"]
    assert c["params"]["compression.prune"] == [None, 0.5] and c["data_digest"][0] == c["data_digest"][1]
    table = cli.ok("--home", h, "models", "compare", "digits-cnn", "1", "2").out
    assert "param compression.quantize" in table and "int8  *" in table


def test_a_version_is_never_dated_before_its_parent(tmp_path):
    from core.audit import AuditLog
    from core.registry import Registry
    from core.store import Store

    store = Store(tmp_path)
    reg = Registry(store, AuditLog(store))
    common = dict(framework="f", sha256="0" * 64, params={}, metrics={}, data_digest="d")
    reg.register("m", user="u", created_at="2026-12-03T10:00:00Z", **common)
    # a writer whose clock lags the parent's
    child = reg.register("m", user="u", created_at="2026-12-03T09:00:00Z", parent="m:1", alias=None, **common)
    assert child.created_at == "2026-12-03T10:00:00Z" and child.stage == "staging"
    store.close()


def _write_csv(path, d, change=None, blank=None):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*d.names, "target"])
        for i, (row, label) in enumerate(zip(d.X, d.y, strict=True)):
            row = list(row)
            if change and i == change[0]:
                row[change[1]] = change[2]
            cells = [repr(v) for v in row]
            if blank and i < blank[0]:
                cells[blank[1]] = ""
            w.writerow([*cells, label])


def test_models_list_json_is_one_object_per_version(cli, tmp_path, home):
    h = _copy(home, tmp_path)
    rows = json.loads(cli.ok("--home", h, "models", "list", "-o", "json").out)
    assert len([r for r in rows if r["name"] == "digits-cnn"]) == 2


def test_a_package_builds_as_is_its_manifests_validate_and_its_server_answers(cli, tmp_path, home):
    """The context is checked as a CI step would (the gate with --package), its manifests against the API
    schema again here, and its entrypoint run as the image would run it: real HTTP on 127.0.0.1."""
    import socket
    import subprocess
    import sys
    import urllib.request

    import kubernetes_validate
    import yaml

    h, out = _copy(home, tmp_path), tmp_path / "pkg"
    summary = cli.ok("--home", h, "models", "package", "digits-cnn", "2", str(out), "-o", "json", timeout=300).json()
    assert (
        summary["manifests"]["valid"] and summary["security_findings"]["HIGH"] == 0 and summary["sbom_components"] > 50
    )
    for name in ("deployment", "service"):
        doc = yaml.safe_load((out / "k8s" / f"{name}.yaml").read_text())
        kubernetes_validate.validate(doc, "1.32", strict=True)
    assert "MODEL_SHA256=" + summary["sha256"] in (out / "Dockerfile").read_text()
    assert (out / "requirements.txt").read_text().startswith("torch==2.13")
    g = cli.ok("--home", h, "models", "gate", "digits-cnn", "2", "--package", str(out), "-o", "json").json()
    assert {"package artifact", "manifests", "sbom", "security scan"} <= {c["name"] for c in g["checks"] if c["passed"]}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"MODEL_SHA256": summary["sha256"], "PORT": str(port), "HOST": "127.0.0.1", "PATH": "/usr/bin:/bin"}
    server = subprocess.Popen([sys.executable, "serve.py"], cwd=out, env=env, stderr=subprocess.PIPE)
    try:
        digits = D.bundled("digits")
        body = json.dumps({"instances": digits.X[:30]}).encode()
        for _ in range(600):  # up to a minute for torch's import: a bound on waiting, not a timing assertion
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/predict", data=body)
                got = json.load(urllib.request.urlopen(req, timeout=10))
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                import time

                time.sleep(0.1)
        assert sum(p == y for p, y in zip(got["predictions"], digits.y[:30], strict=True)) >= 27
    finally:
        server.kill()
        server.wait()


def test_packaging_into_a_directory_that_is_not_empty_is_refused_and_writes_nothing(cli, tmp_path, home):
    out = tmp_path / "pkg"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    r = cli("--home", _copy(home, tmp_path), "models", "package", "digits-cnn", "1", str(out))
    assert r.rc == 2 and "not an empty directory" in r.err
    assert [p.name for p in out.iterdir()] == ["mine.txt"] and [
        p.name for p in tmp_path.iterdir() if p.name.startswith(".pkg")
    ] == []


def test_the_recommender_trains_on_a_window_of_the_consoles_history_through_its_gate(cli, tmp_path, home):
    h = _copy(home, tmp_path)
    from core.backends.sim import spark_world as w

    world = tmp_path / "world.jsonl"
    world.write_text("".join(json.dumps(r) + "\n" for r in w.history(11, n_jobs=30, days=20)[0]))
    engine = _engine(h)
    engine.import_history(str(world))
    engine.close()
    out = cli.ok(
        "--home", h, "models", "train", "retry-recommender", "--data-window", "3650", "-o", "json", timeout=300
    )
    assert out.json()["gate"]["passed"] and "took production" in out.err
    rows = {
        v["version"]: v
        for v in cli.ok("--home", h, "models", "list", "--model", "retry-recommender", "-o", "json").json()
    }
    assert rows[out.json()["version"]]["aliases"] == ["production"]
    events = cli.ok("--home", h, "audit", "list", "-o", "json").json()
    registered = next(e for e in events if e["verb"] == "register" and e["object_ref"]["name"] == "retry-recommender")
    assert registered["annotations"]["data_window_days"] == 3650 and registered["annotations"]["gate"] == "passed"
    assert cli("--home", h, "models", "train", "retry-recommender", "--data-window", "0").rc == 2
    bad = cli("--home", h, "models", "train", "digits-cnn", "--data-window", "30")
    assert bad.rc == 2 and "--data-window is for retry-recommender" in bad.err


def test_a_version_trained_on_a_csv_is_gated_from_that_file_and_a_changed_file_is_named(cli, tmp_path, home):
    h = _copy(home, tmp_path)
    path = tmp_path / "cancer.csv"
    _write_csv(path, D.bundled("breast_cancer"))
    # the global --seed (a new estate's) and the training's own --seed are two options
    v = cli.ok(
        "--home",
        h,
        "--seed",
        "9",
        "models",
        "train",
        "cancer-mlp",
        "--param",
        "epochs=3",
        "--seed",
        "4",
        "--data",
        str(path),
        "-o",
        "json",
    ).json()["version"]
    shown = cli.ok("--home", h, "models", "show", "cancer-mlp", str(v), "-o", "json").json()
    assert shown["params"]["seed"] == 4 and shown["params"]["data_path"] == str(path.resolve())
    assert cli.ok("--home", h, "models", "gate", "cancer-mlp", str(v), "-o", "json").json()["passed"] is True
    _write_csv(path, D.bundled("breast_cancer"), change=(0, 0, 1.0))
    r = cli("--home", h, "models", "evaluate", "cancer-mlp", str(v))
    assert r.rc == 1 and "is not the data cancer-mlp:" in r.err
    gate = cli.ok(
        "--home", h, "models", "gate", "cancer-mlp", str(v), "-o", "json"
    ).json()  # on the registered accuracy
    assert any(c["name"] == "re-measured" and "not re-measured" in c["detail"] for c in gate["checks"])
    removed = cli("--home", h, "models", "alias", "cancer-mlp", "canary", "--remove")
    assert removed.rc == 2 and "no alias 'canary'" in removed.err
