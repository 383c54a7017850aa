"""What the simulator does to its deployments' traffic (core.monitoring.traffic.Faults): errors, latency
and drift an operator injects (`monitoring inject`), over the drift the estate's fixture gives a
deployment. Kept in the estate's meta table: every process of the console sees the same faults."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.store import Store
    from core.types import ModelDeployment


class TrafficFaults:
    """Mixed into SimCluster, whose store, fixture specs and deployments it reads."""

    if TYPE_CHECKING:
        store: Store

        @property
        def _dep_specs(self) -> dict[str, dict[str, Any]]: ...

        def get_deployment(self, name: str) -> ModelDeployment: ...

    def faults(self) -> dict[str, dict[str, float]]:
        """What the simulator does to each deployment's traffic (core.monitoring.traffic.Faults): what an
        operator injected (`estate inject`), over the drift the estate's fixture gives a deployment."""
        import json

        out = {name: {"prior": float(spec["drift"])} for name, spec in self._dep_specs.items() if spec.get("drift")}
        for name, f in json.loads(self.store.get_meta("sim.faults") or "{}").items():
            out[name] = {**out.get(name, {}), **f}
        return out

    def inject_faults(self, deployment: str, faults: dict[str, float] | None) -> None:
        """Set (merge) the faults of a deployment's traffic; None clears what was injected."""
        import json

        self.get_deployment(deployment)  # NotFound names it
        with self.store.transaction():
            stored = json.loads(self.store.get_meta("sim.faults") or "{}")
            if faults is None:
                stored.pop(deployment, None)
            else:
                stored[deployment] = {**stored.get(deployment, {}), **faults}
            self.store.set_meta("sim.faults", json.dumps(stored, sort_keys=True))
