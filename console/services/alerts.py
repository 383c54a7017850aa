"""Firing alerts, through Alertmanager's v2 API (httpx), and silencing one (audited). Alert text comes
from whoever wrote the rules: it is stripped of terminal control sequences here, and the views escape it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from console.services.wiring import Wiring
from core import clock
from core.errors import BadInput, MetricsUnavailable, NotFound
from core.sanitize import redact_url, strip_control

SILENCE_KEYS = ("alertname", "deployment", "namespace", "model")  # what a silence matches of an alert's labels


class AlertService:
    def __init__(self, w: Wiring):
        self.w = w

    @property
    def configured(self) -> bool:
        return bool(self.w.settings.alertmanager_url)

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        url = self.w.settings.alertmanager_url.rstrip("/") + path
        try:
            r = httpx.request(method, url, timeout=self.w.settings.monitoring_timeout_seconds, **kw)
            r.raise_for_status()
            return r.json()
        except httpx.HTTPStatusError as e:
            raise MetricsUnavailable(
                f"Alertmanager at {redact_url(self.w.settings.alertmanager_url)}: {e.response.status_code} "
                f"{strip_control(e.response.text)[:200]}"
            ) from None
        except (httpx.HTTPError, ValueError) as e:
            said = str(e).replace(self.w.settings.alertmanager_url, redact_url(self.w.settings.alertmanager_url))
            raise MetricsUnavailable(
                f"Alertmanager at {redact_url(self.w.settings.alertmanager_url)}: {said or type(e).__name__}"
            ) from None

    def firing(self) -> list[dict[str, Any]]:
        """Active alerts that no silence or inhibition hides, most severe first, then oldest."""
        if not self.configured:
            return []
        raw = self._request(
            "GET", "/api/v2/alerts", params={"active": "true", "silenced": "false", "inhibited": "false"}
        )
        out = []
        for a in raw if isinstance(raw, list) else []:
            labels = {str(k): strip_control(str(v)) for k, v in (a.get("labels") or {}).items()}
            notes = {str(k): strip_control(str(v)) for k, v in (a.get("annotations") or {}).items()}
            out.append(
                {
                    "fingerprint": strip_control(str(a.get("fingerprint", ""))),
                    "alertname": labels.get("alertname", "?"),
                    "severity": labels.get("severity", ""),
                    "deployment": labels.get("deployment", ""),
                    "summary": notes.get("summary") or notes.get("description") or "",
                    "since": strip_control(str(a.get("startsAt", "")))[:19].replace("T", " "),
                    "labels": labels,
                }
            )
        rank = {"critical": 0, "warning": 1}
        return sorted(out, key=lambda a: (rank.get(a["severity"], 2), a["since"]))

    def silence(self, key: str, hours: float = 2.0, comment: str = "") -> dict[str, Any]:
        """Silence the firing alert whose fingerprint (or a unique prefix of it) is `key`, or the one alert
        of that name, for `hours`: matched on its name and deployment. Audited with who, why and until when."""
        user = self.w.require("alert-silence")
        if not 0 < hours <= 24 * 14:
            raise BadInput(f"a silence lasts more than 0 and at most 336 hours, got {hours}")
        alert = self._find(key)
        now = datetime.now(UTC)  # Alertmanager keeps real time, whatever clock the console is pinned to
        until = now + timedelta(hours=hours)
        body = {
            "matchers": [
                {"name": k, "value": alert["labels"][k], "isRegex": False, "isEqual": True}
                for k in SILENCE_KEYS
                if k in alert["labels"]
            ],
            "startsAt": clock.iso(now),
            "endsAt": clock.iso(until),
            "createdBy": user,
            "comment": comment or f"silenced from mlops-console by {user}",
        }
        result: dict[str, Any] = {}

        def post() -> None:
            result.update(self._request("POST", "/api/v2/silences", json=body))

        self.w.audit.change(
            verb="silence",
            user=user,
            object_ref={"resource": "alert", "name": alert["alertname"], "namespace": alert["deployment"] or None},
            before={"alert": alert["labels"], "fingerprint": alert["fingerprint"]},
            apply=post,
            after=lambda: {
                "silence_id": result.get("silenceID"),
                "until": body["endsAt"],
                "matchers": body["matchers"],
            },
            annotations={"reason": body["comment"], "alertmanager": redact_url(self.w.settings.alertmanager_url)},
        )
        return {"silence_id": result.get("silenceID"), "alert": alert["alertname"], "until": body["endsAt"]}

    def _find(self, key: str) -> dict[str, Any]:
        alerts = self.firing()
        hits = [a for a in alerts if a["fingerprint"].startswith(key)] or [a for a in alerts if a["alertname"] == key]
        if not hits:
            raise NotFound(f"no firing alert {key!r} (fingerprint or name; see `monitoring alerts`)")
        if len(hits) > 1:
            raise BadInput(
                f"{key!r} names {len(hits)} firing alerts: give one's fingerprint ("
                + ", ".join(a["fingerprint"][:12] + " " + a["deployment"] for a in hits[:5])
                + ")"
            )
        return hits[0]
