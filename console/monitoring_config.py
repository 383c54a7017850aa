"""The Prometheus and Alertmanager configuration the console ships (`monitoring config DIR`): a scrape of
the estate's model servers and of the console, and the alert rules the Dashboard's alerts come from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import BadInput
from core.monitoring.drift import ACCURACY_DROP_ALERT, LEVELS, PSI_ALERT

ERROR_RATE_ALERT = 0.05  # share of a deployment's requests that fail
P99_ALERT_SECONDS = 1.0
FAILED_ATTEMPTS_ALERT = 0.5  # share of the last day's job attempts that failed


def rules(hold: str = "2m", window: str = "5m") -> dict[str, Any]:
    """The alert rules; `hold` is each rule's `for` (how long a condition must last), `window` the rate window."""
    by = "deployment, namespace"
    req = f"sum by ({by}) (rate(mlops_model_requests_total[{window}]))"

    def rule(name: str, expr: str, severity: str, summary: str) -> dict[str, Any]:
        return {
            "alert": name,
            "expr": expr,
            "for": hold,
            "labels": {"severity": severity, "source": "mlops-console"},
            "annotations": {"summary": summary},
        }

    return {
        "groups": [
            {
                "name": "mlops-console-models",
                "rules": [
                    rule(
                        "ModelErrorRateHigh",
                        f"sum by ({by}) (rate(mlops_model_request_errors_total[{window}])) / {req} > {ERROR_RATE_ALERT}",
                        "critical",
                        "{{ $labels.deployment }} fails {{ $value | humanizePercentage }} of its requests",
                    ),
                    rule(
                        "ModelLatencyHigh",
                        f"histogram_quantile(0.99, sum by ({by}, le) "
                        f"(rate(mlops_model_request_predict_seconds_bucket[{window}]))) > {P99_ALERT_SECONDS}",
                        "warning",
                        "{{ $labels.deployment }} answers in {{ $value | humanizeDuration }} at p99",
                    ),
                    rule(
                        "ModelDrift",
                        # the console's verdict: PSI past the alert level, and significant by the KS test
                        f"mlops_console_model_drift_level >= {LEVELS.index('alert')}",
                        "warning",
                        "{{ $labels.model }} v{{ $labels.version }} on {{ $labels.deployment }}: its inputs or scores "
                        f"moved from its training data (PSI ≥ {PSI_ALERT}, significant by KS)",
                    ),
                    rule(
                        "ModelAccuracyLow",
                        "mlops_console_model_reference_accuracy - mlops_console_model_accuracy"
                        f" > {ACCURACY_DROP_ALERT}",
                        "warning",
                        '{{ $labels.model }} on {{ $labels.deployment }} is {{ $value | printf "%.2f" }} less accurate than in training',
                    ),
                    rule(
                        "FailingJobsHigh",
                        'sum(mlops_console_job_attempts_24h{status="failed"}) / sum(mlops_console_job_attempts_24h)'
                        f" > {FAILED_ATTEMPTS_ALERT}",
                        "warning",
                        "{{ $value | humanizePercentage }} of the last day's job attempts failed",
                    ),
                    rule(
                        "ExporterDown",
                        'up{job=~"model-servers|mlops-console"} == 0',
                        "warning",
                        "{{ $labels.instance }} ({{ $labels.job }}) does not answer Prometheus's scrape: its alerts "
                        "cannot fire",
                    ),
                    rule(
                        "MetricsSourceDown",
                        "mlops_console_metrics_source_up == 0",
                        "warning",
                        "the console cannot read the serving metrics: drift is not being measured",
                    ),
                ],
            }
        ]
    }


def prometheus(
    rules_file: Path, estate: list[str], console: list[str], alertmanager: str, interval: str = "15s"
) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rules_file.resolve())],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]} if alertmanager else {},
        "scrape_configs": [
            c
            for c in (
                {"job_name": "model-servers", "static_configs": [{"targets": estate}]} if estate else None,
                {"job_name": "mlops-console", "static_configs": [{"targets": console}]} if console else None,
            )
            if c
        ],
    }


def alertmanager(group_wait: str = "30s") -> dict[str, Any]:
    """Routes every alert to a receiver that sends nowhere: the console reads them from the API; a team
    adds its pager or chat receiver here."""
    return {
        "route": {"receiver": "console", "group_by": ["alertname", "deployment"], "group_wait": group_wait},
        "receivers": [{"name": "console"}],
    }


def write(
    directory: Path,
    estate: list[str],
    console: list[str],
    alertmanager_target: str,
    interval: str = "15s",
    hold: str = "2m",
    window: str = "5m",
) -> list[Path]:
    """prometheus.yml, rules.yml and alertmanager.yml in `directory` (made if missing); the paths written."""
    import yaml

    if not estate and not console:
        raise BadInput("nothing to scrape: give --estate-target and/or --console-target HOST:PORT")
    for t in [*estate, *console, *([alertmanager_target] if alertmanager_target else [])]:
        host, sep, port = t.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise BadInput(f"target {t!r}: expected HOST:PORT")
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "rules.yml": rules(hold, window),
        "prometheus.yml": prometheus(directory / "rules.yml", estate, console, alertmanager_target, interval),
        "alertmanager.yml": alertmanager("0s" if hold in ("0s", "0") else "30s"),
    }
    out = []
    for name, doc in files.items():
        path = directory / name
        tmp = path.with_suffix(".yml.tmp")
        tmp.write_text(yaml.safe_dump(doc, sort_keys=False, width=200), encoding="utf-8")
        tmp.replace(path)
        out.append(path)
    return out
