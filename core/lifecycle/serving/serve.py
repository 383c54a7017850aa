"""The serving entrypoint of a packaged model version: loads the artifact (its sha256 checked, tensors
only) and answers POST /v1/predict {"instances": [[feature, ...], ...]} with {"predictions": [class, ...],
"probabilities": [[p, ...], ...]}; GET /healthz. Standard library HTTP, one process: a Deployment scales it.

    python serve.py            # MODEL_PATH, MODEL_SHA256, PORT (8080), HOST (0.0.0.0) from the environment
"""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from core import artifacts
from core.lifecycle.train import Trained

MAX_BODY = 1 << 20


def load() -> Trained:
    tensors, meta = artifacts.load(
        Path(os.environ.get("MODEL_PATH", "model.pt")), os.environ["MODEL_SHA256"], "rebuild the image"
    )
    return Trained.from_artifact(tensors, meta)


def handler(model: Trained) -> type[BaseHTTPRequestHandler]:
    import torch

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/healthz":
                self._send(200, {"status": "ok", "features": len(model.names), "classes": model.classes})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != "/v1/predict":
                self._send(404, {"error": "not found"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = 0
            if not 0 < length <= MAX_BODY:
                self._send(413 if length > MAX_BODY else 400, {"error": f"a JSON body of 1..{MAX_BODY} bytes"})
                return
            try:
                rows = json.loads(self.rfile.read(length))["instances"]
                if not isinstance(rows, list) or not rows or not all(_numbers(r, len(model.names)) for r in rows):
                    raise ValueError(f"instances: a list of rows of {len(model.names)} numbers each")
                with torch.inference_mode():
                    p = torch.softmax(model.net(model.inputs(rows)), dim=1)
            except (ValueError, KeyError, TypeError) as e:
                self._send(400, {"error": str(e)})
                return
            self._send(200, {"predictions": p.argmax(1).tolist(), "probabilities": p.tolist()})

        def log_message(self, format: str, *args: object) -> None:  # quiet: request logs are the mesh's
            pass

    return Handler


def _numbers(row: object, n: int) -> bool:
    return isinstance(row, list) and len(row) == n and all(type(v) in (int, float) for v in row)


def main() -> None:
    # a container binds its pod's address: the pod network is the boundary, not the interface
    host = os.environ.get("HOST", "0.0.0.0")  # nosec B104
    server = ThreadingHTTPServer((host, int(os.environ.get("PORT", "8080"))), handler(load()))
    server.serve_forever()


if __name__ == "__main__":
    main()
