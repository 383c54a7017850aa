"""The engine facade's monitoring verbs: serving metrics, drift, alerts, fault drills, the retrain loop and
the exporters (console/services/metrics.py, alerts.py, retrain.py; console/exporter.py). Engine mixes it
in; it reads the services and wiring Engine builds."""

from __future__ import annotations

from typing import Any


class MonitoringFacade:
    _w: Any
    _alerts: Any
    _models: Any
    _rollouts: Any

    # -- monitoring: serving metrics, drift, alerts, the retrain loop ------------------------------------------
    def metrics_source(self) -> str:
        return self._w.metrics.source

    def metrics_problem(self) -> str | None:
        """Why the serving metrics could not be read at the last try (None: they could)."""
        return self._w.metrics.last_error

    def model_drift(self, deployment: str | None = None) -> list[dict[str, Any]]:
        if deployment:
            return [self._w.metrics.drift(deployment)]
        return self._w.metrics.drift_all()

    def faults(self) -> dict[str, dict[str, float]]:
        return self._w.cluster.faults()

    @staticmethod
    def drift_line(drift: dict[str, Any]) -> str:
        from console.services.dashboard import drift_line

        return drift_line(drift)

    def faults_supported(self) -> bool:
        """The backend simulates its traffic (the embedded estate): faults can be injected, and its model
        servers' metrics are the console's to export."""
        return (
            self._w.cluster.training_jobs() is None
            and not self._w.settings.kubeconfig
            and self._w.cluster.name.startswith("sim")
        )

    def inject_faults(self, deployment: str, faults: dict[str, float] | None) -> dict[str, Any]:
        """The embedded estate's traffic faults for a deployment (None clears them), audited: a drill is a
        change someone made."""
        user = self._w.require("fault-inject")
        before = self._w.cluster.faults().get(deployment)
        self._w.audit.change(
            verb="inject" if faults is not None else "clear",
            user=user,
            object_ref={"resource": "deployment", "name": deployment},
            before={"faults": before},
            apply=lambda: self._w.cluster.inject_faults(deployment, faults),
            after=lambda: {"faults": self._w.cluster.faults().get(deployment)},
            annotations={"reason": "simulated traffic faults (a drill)"},
        )
        return {"deployment": deployment, "faults": self._w.cluster.faults().get(deployment) or {}}

    def alerts_configured(self) -> bool:
        return self._alerts.configured

    def alerts(self) -> list[dict[str, Any]]:
        return self._alerts.firing()

    def silence_alert(self, key: str, hours: float = 2.0, comment: str = "") -> dict[str, Any]:
        return self._alerts.silence(key, hours, comment)

    def model_retrain(self, deployment: str, **kw: Any) -> dict[str, Any]:
        """The drift → retrain pipeline (console/services/retrain.py); kw: data_path, compress, steps, seed,
        progress, cancelled, note."""
        from console.services.retrain import retrain

        return retrain(self._w, self._models, self._rollouts, deployment, **kw)

    def serve_metrics(self, port: int | None, estate_port: int | None, bind: str = "127.0.0.1") -> list[int]:
        """The console's own metrics on `port` and, on the embedded estate, its model servers' on
        `estate_port` (console/exporter.py); the ports bound."""
        from console import exporter

        return exporter.serve(self._w, port, estate_port, bind)
