"""Monitoring (issue 21): drift measured from histograms, faults injected into the embedded estate's
traffic, the drift → retrain pipeline, and — against a real Prometheus and Alertmanager (Debian's, started
here on 127.0.0.1) — the exporters, PromQL, alerts on the Dashboard, an audited silence and the one-key
retrain of a drifting model."""

from __future__ import annotations

import json
import random
import subprocess

import pytest
from conftest import Cli, connect
from promstack import Stack, free_port, need, wait_for
from test_tui_changes import until
from test_tui_dashboard import drawn
from textual.widgets import DataTable

from console.app import ConsoleApp
from console.engine import Engine
from console.settings import load
from core.errors import MetricsUnavailable
from core.monitoring import drift, traffic
from screens.alerts import AlertsScreen
from screens.dialogs import ConfirmScreen, FormScreen
from screens.job_dialog import JobScreen


def engine_on(home, **settings) -> Engine:
    s = load({"home": str(home), "user": "erin"})
    for k, v in settings.items():
        setattr(s, k, v)
    return Engine(s)


# -- drift, as numbers ----------------------------------------------------------------------------------
def test_psi_is_zero_for_the_same_shape_and_past_the_alert_level_for_a_shifted_one():
    ref = traffic.parametric(0.5).input
    assert drift.psi(ref, [x * 1000 for x in ref]) == pytest.approx(0, abs=1e-9)
    moved = traffic.shifted(ref, traffic.INPUT_WIDTH, 0.4)
    assert drift.psi(ref, moved) >= drift.PSI_ALERT
    assert drift.psi(ref, traffic.shifted(ref, traffic.INPUT_WIDTH, 0.02)) < drift.PSI_WARN
    assert abs(sum(moved) - 1) < 1e-9  # shifting keeps the mass: the outer bins are open


def test_a_small_or_noisy_sample_of_the_reference_is_not_called_drift():
    ref = traffic.parametric(0.3).score
    rng = random.Random(5)
    few = [0] * 10
    for _ in range(60):
        few[rng.choices(range(10), ref)[0]] += 1
    assert drift.measure("score", ref, few).level == "few"  # PSI of 60 values is mostly noise
    many = [0] * 10
    for _ in range(5000):
        many[rng.choices(range(10), ref)[0]] += 1
    m = drift.measure("score", ref, many)
    assert m.level == "ok" and m.ks_p > drift.KS_ALPHA
    moved = [0] * 10
    for _ in range(5000):
        moved[rng.choices(range(10), traffic.shifted(ref, traffic.SCORE_WIDTH, 0.15))[0]] += 1
    assert drift.measure("score", ref, moved).level == "alert"


# -- the embedded estate: faults, drift, the retrain pipeline --------------------------------------------
def test_injected_drift_shows_as_a_drift_alert_until_cleared_and_the_drill_is_audited(home_copy):
    e = engine_on(home_copy)
    assert e.model_drift("digit-reader")[0]["level"] == "ok"
    e.inject_faults("digit-reader", {"covariate": 0.6})
    d = e.model_drift("digit-reader")[0]
    assert d["level"] == "alert" and {s["signal"]: s["level"] for s in d["signals"]}["input"] == "alert"
    assert any("digits-cnn v1 on digit-reader: input PSI" in a for a in e.summary().model_drift)
    e.inject_faults("digit-reader", None)
    assert e.model_drift("digit-reader")[0]["level"] == "ok"
    # concept drift moves neither inputs nor scores: it is the accuracy on labelled predictions that says it
    e.inject_faults("digit-reader", {"concept": 0.3})
    d = e.model_drift("digit-reader")[0]
    assert d["level"] == "alert" and all(s["level"] == "ok" for s in d["signals"]) and d["accuracy_drop"] > 0.1
    assert any("digit-reader: accuracy" in line for line in e.summary().model_drift)
    e.inject_faults("digit-reader", None)
    verbs = [(ev.verb, ev.user) for ev in e.audit_events() if ev.object_ref.get("name") == "digit-reader"]
    assert ("inject", "erin") in verbs and ("clear", "erin") in verbs


def test_inject_refuses_nonsense_with_a_one_line_error(cli, demo_home):
    r = cli("--home", str(demo_home), "--read-only", "monitoring", "inject", "digit-reader", "errors=lots")
    assert r.rc == 2 and "errors=lots" in r.err and len(r.err.strip().splitlines()) == 1
    for bad in ("covariate=nan", "latency=inf", "errors=1.5", "covariate=1e308"):
        r = cli("--home", str(demo_home), "--read-only", "monitoring", "inject", "digit-reader", bad)
        assert r.rc == 2 and bad.split("=")[0] in r.err and len(r.err.strip().splitlines()) == 1, (bad, r.err)


def test_a_model_without_a_training_recipe_is_not_retrained(cli, demo_home):
    r = cli("--home", str(demo_home), "models", "retrain", "churn-predictor")
    assert r.rc == 2 and "churn-gbm" in r.err and "no training recipe" in r.err


def test_an_unreachable_prometheus_is_said_on_the_dashboard_and_nothing_breaks(home_copy):
    e = engine_on(home_copy, prometheus_url=f"http://127.0.0.1:{free_port()}", monitoring_timeout_seconds=2.0)
    with pytest.raises(MetricsUnavailable, match="Prometheus at http://127.0.0.1"):
        e.metrics("digit-reader", 5)
    s = e.summary()
    assert s.monitoring_problem and "Prometheus" in s.monitoring_problem
    assert s.nodes_total > 0  # the rest of the dashboard is there


def test_the_generated_config_and_rules_pass_promtool(tmp_path, cli):
    need("promtool")
    r = cli(
        "monitoring",
        "config",
        str(tmp_path / "cfg"),
        "--estate-target",
        "127.0.0.1:9465",
        "--console-target",
        "127.0.0.1:9464",
        "--alertmanager-target",
        "127.0.0.1:9093",
    )
    assert r.rc == 0, r.err
    check = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "cfg" / "prometheus.yml")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "7 rules found" in check.stdout + check.stderr


# -- a real Prometheus and Alertmanager ------------------------------------------------------------------
@pytest.fixture
def stack(tmp_path, home_copy):
    console_port, estate_port = free_port(), free_port()
    st = Stack(tmp_path / "stack", [f"127.0.0.1:{estate_port}"], [f"127.0.0.1:{console_port}"])
    # the console reads what Prometheus scraped (every second): one measurement per 5 s, drift over 20 s
    live = dict(
        prometheus_url=st.prometheus_url,
        alertmanager_url=st.alertmanager_url,
        prometheus_step_seconds=5.0,
        drift_window_minutes=1 / 3,
    )
    exporter = engine_on(home_copy, **live)
    exporter.serve_metrics(console_port, estate_port)
    st.start()
    st.live = live
    st.home = home_copy
    st.exporter = exporter
    wait_for("both targets scraped", lambda: len(st.query("up == 1")) == 2)
    yield st
    st.stop()


def firing(st: Stack, name: str, deployment: str) -> list[dict]:
    return [
        a
        for a in st.alerts()
        if a["labels"].get("alertname") == name
        and a["labels"].get("deployment") == deployment
        and a["status"]["state"] == "active"
    ]


async def test_an_error_spike_fires_an_alert_shown_on_the_dashboard_and_a_silence_is_audited(stack):
    e = stack.exporter
    e.inject_faults("cancer-screen", {"errors": 0.4})
    wait_for("ModelErrorRateHigh on cancer-screen", lambda: firing(stack, "ModelErrorRateHigh", "cancer-screen"))
    # PromQL through prometheus-api-client sees the spike too, once its rate window holds only the spike
    # (injected 40 %; the estate's own rate is 0.5 %)
    pts = wait_for("the spike in PromQL", lambda: [p for p in e.metrics("cancer-screen", 1)[-1:] if p.error_rate > 0.2])
    assert pts[-1].request_rate > 0 and pts[-1].p99_ms > 0

    s = load({"home": str(stack.home), "user": "erin"})
    for k, v in stack.live.items():
        setattr(s, k, v)
    app = ConsoleApp(Engine(s), s)
    async with app.run_test(size=(160, 60)) as pilot:
        await until(pilot, lambda: "ModelErrorRateHigh" in "\n".join(drawn(app.screen.board)), tries=600)
        # enter on the Alerts panel: the list, where `s` silences the selected alert
        await pilot.pause()
        app.screen.board.select([p.key for p in app.screen.board.panels].index("alerts"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen) and app.screen.rows, tries=600)
        table = app.screen.query_one(DataTable)
        names = [(r["alertname"], r["deployment"]) for r in app.screen.rows]
        table.move_cursor(row=names.index(("ModelErrorRateHigh", "cancer-screen")))
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, FormScreen))
        await pilot.press("ctrl+o")
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, AlertsScreen)
                and ("ModelErrorRateHigh", "cancer-screen")
                not in [(r["alertname"], r["deployment"]) for r in app.screen.rows]
            ),
            tries=600,
        )
    assert not [a for a in firing(stack, "ModelErrorRateHigh", "cancer-screen") if not a["status"]["silencedBy"]]
    silences = [ev for ev in e.audit_events() if ev.verb == "silence"]
    assert silences and silences[0].user == "erin" and silences[0].object_ref["name"] == "ModelErrorRateHigh"
    with connect(stack.home) as conn:
        assert conn.execute("SELECT count(*) FROM audit WHERE verb = 'silence'").fetchone()[0] >= 1


async def test_injected_drift_fires_an_alert_and_one_key_retrains_into_a_gated_canary(stack):
    e = stack.exporter
    e.inject_faults("digit-reader", {"covariate": 0.8})
    wait_for("ModelDrift on digit-reader", lambda: firing(stack, "ModelDrift", "digit-reader"))
    # the drift the alert came from was measured on Prometheus's histograms
    d = e.model_drift("digit-reader")[0]
    assert d["level"] == "alert" and d["signals"][0]["count"] > 0

    s = load({"home": str(stack.home), "user": "erin"})
    for k, v in stack.live.items():
        setattr(s, k, v)
    app = ConsoleApp(Engine(s), s)
    async with app.run_test(size=(160, 60)) as pilot:
        await until(pilot, lambda: "ModelDrift" in "\n".join(drawn(app.screen.board)), tries=600)
        app.screen.board.select([p.key for p in app.screen.board.panels].index("alerts"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AlertsScreen) and app.screen.rows, tries=600)
        rows = [(r["alertname"], r["deployment"]) for r in app.screen.rows]
        app.screen.query_one(DataTable).move_cursor(row=rows.index(("ModelDrift", "digit-reader")))
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, JobScreen))
        await until(pilot, lambda: not isinstance(app.screen, JobScreen), tries=6000)  # up to 300 s: torch, CI
    dep = e.deployment("digit-reader")
    assert dep.canary is not None and dep.canary.weight == 10
    mv = e.model_show("digits-cnn", str(dep.canary.model_version))
    assert mv["metrics"]["reference"]["learned_drift"] == {"covariate": 0.8}
    assert e.model_gate("digits-cnn", str(dep.canary.model_version))["passed"]
    retrains = [ev.after for ev in e.audit_events() if ev.verb == "retrain"]
    assert retrains and retrains[0]["version"] == dep.canary.model_version and retrains[0]["gate"]["passed"]
    assert retrains[0]["gate"]["recent_data"]["passed"]  # beside production, on the same recent rows
    for step in ("validated", "trained and registered", "gate passed", "canary at 10%"):
        assert any(line.startswith(step) for line in retrains[0]["steps"]), retrains[0]["steps"]
    # the new version learned the drifted world: its own traffic does not drift from its reference
    pts = e._w.metrics.embedded("digit-reader", 15, dep.canary.number)
    live = [sum(p.input_hist[i] for p in pts) for i in range(10)]
    ref = traffic.Reference.of(mv["metrics"]["reference"])
    assert drift.measure("input", ref.input, live, ref.rows).level == "ok"
    # a second retrain while that canary is in flight is refused before anything is trained (the CLI's way)
    versions = [m.version for m in e.models("digits-cnn")]
    again = Cli(stack.home.parent / "cli")("--home", str(stack.home), "models", "retrain", "digit-reader")
    assert again.rc != 0 and "already has a canary" in again.err and "# train:" not in again.err
    assert [m.version for m in e.models("digits-cnn")] == versions


def webhook_receiver():
    """A real HTTP server on 127.0.0.1 that keeps what is POSTed to it: (server, the bodies heard)."""
    import http.server
    import threading

    heard: list[dict] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            heard.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, heard


def test_a_webhook_hears_each_rollout_and_autofix_change_and_a_dead_one_changes_nothing(home_copy):
    server, heard = webhook_receiver()
    try:
        e = engine_on(home_copy, webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
        e.inject_faults("digit-reader", {"errors": 0.1})
        e.rollout_abort("ranker")  # the estate's canary in flight
        wait_for(
            "the webhook's posts of both changes",
            lambda: (
                {"deployment/digit-reader"} <= {h["object"] for h in heard}
                and any(h["object"].endswith("ranker") and h["verb"] != "inject" for h in heard)
            ),
        )
        assert all(h["user"] == "erin" and h["source"] == "mlops-console" for h in heard)
    finally:
        server.shutdown()
    dead = engine_on(home_copy, webhook_url=f"http://127.0.0.1:{free_port()}/hook")
    assert dead.inject_faults("digit-reader", None)["faults"] == {}  # the change is made, unheard


def test_a_rollout_waits_rather_than_aborts_while_its_metrics_cannot_be_read(home_copy):
    e = engine_on(home_copy, prometheus_url=f"http://127.0.0.1:{free_port()}", monitoring_timeout_seconds=2.0)
    op = e.rollout_start("fraud-scorer", "fraud-xgb", 9, [10, 100], 0.0, {"window_minutes": 10, "failure_limit": 2})
    assert op["state"] == "paused", op
    last = op["results"][-1]
    assert last["inconclusive"] and "Prometheus at http://127.0.0.1" in last["summary"]
    assert e.deployment("fraud-scorer").canary.weight == 10  # still serving its share, not aborted


def test_the_webhook_hears_a_cli_command_that_exits_right_after_its_change(cli, home_copy):
    server, heard = webhook_receiver()
    try:
        hook = {"MLOPS_CONSOLE_WEBHOOK_URL": f"http://127.0.0.1:{server.server_port}/hook"}
        r = cli("--home", str(home_copy), "monitoring", "inject", "cancer-screen", "errors=0.2", env=hook)
        assert r.rc == 0, r.err
        # the command has exited: its post arrived before it did
        assert [(h["object"], h["verb"]) for h in heard] == [("deployment/cancer-screen", "inject")]
    finally:
        server.shutdown()


def test_a_monitoring_setting_that_is_not_a_url_is_refused_naming_it(cli, tmp_path):
    r = cli("--home", str(tmp_path / "h"), "version", env={"MLOPS_CONSOLE_PROMETHEUS_URL": "localhost:9090"})
    assert r.rc == 2 and "prometheus_url" in r.err and len(r.err.strip().splitlines()) == 1


async def test_the_tui_says_prometheus_is_unreachable_and_stays_up(home_copy):
    from test_tui import goto, wait_rows

    s = load({"home": str(home_copy), "user": "erin"})
    s.prometheus_url, s.monitoring_timeout_seconds = f"http://127.0.0.1:{free_port()}", 2.0
    app = ConsoleApp(Engine(s), s)
    async with app.run_test(size=(140, 50)) as pilot:
        await until(pilot, lambda: "Prometheus at http://127.0.0.1" in "\n".join(drawn(app.screen.board)), tries=600)
        assert "stale" in "\n".join(drawn(app.screen.board))
        await goto(pilot, "rollouts")
        await wait_rows(pilot)  # the deployments, their metrics as dashes
        assert app.is_running


def test_prometheus_behind_basic_auth_is_read_with_the_credentials_from_the_environment(tmp_path, monkeypatch):
    from console.services.promql import PromQL

    nobody = [f"127.0.0.1:{free_port()}"]  # a target that is not there: this test reads no scrape
    st = Stack(tmp_path / "stack", [], nobody, basic_auth=("console", "s3cret-pw")).start()
    try:
        monkeypatch.setenv("PROM_CREDENTIALS", "console:s3cret-pw")
        s = load({"home": str(tmp_path / "h")})
        s.prometheus_url, s.prometheus_basic_auth = st.prometheus_url, "$PROM_CREDENTIALS"
        assert PromQL(s).scalar("vector(1)") == 1.0
        s.prometheus_basic_auth = "console:wrong"
        with pytest.raises(MetricsUnavailable, match="Prometheus at .*401"):
            PromQL(s).scalar("vector(1)")
    finally:
        st.stop()
