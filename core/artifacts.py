"""Model artifacts: tensors and a JSON header in one torch file, named in the registry by its sha256. A file
is read only after its digest matches, and then with `weights_only=True`: nothing is ever unpickled."""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path
from typing import Any

from core.errors import ConsoleError


def save(path: Path, tensors: dict[str, Any], meta: dict[str, Any]) -> str:
    """Write atomically (a half-written file never takes the name); the file's sha256. The bytes depend on
    the tensors and the header only: torch names the archive inside after the file it writes, so it
    writes to memory first and the same weights give the same digest whatever the file is called."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {**tensors, "meta_json": torch.tensor(list(json.dumps(meta, sort_keys=True).encode()), dtype=torch.uint8)}
    buffer = io.BytesIO()
    torch.save(blob, buffer)
    data = buffer.getvalue()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return hashlib.sha256(data).hexdigest()


def load(path: Path, sha256: str, fix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensors, header) of the artifact at `path`, refused unless its sha256 is `sha256`. `fix`: what the
    user can do about a refusal (e.g. "retrain with `autofix train`")."""
    import torch

    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConsoleError(f"model artifact {path} is missing; {fix}") from None
    except OSError as e:
        raise ConsoleError(f"model artifact {path} cannot be read: {e.strerror}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ConsoleError(
            f"model artifact {path} is corrupt or was replaced: sha256 {digest[:12]}… is not the registered "
            f"{sha256[:12]}…; {fix}"
        )
    try:  # tensors only: anything else (a pickle of objects, another layout) is refused, never run
        with warnings.catch_warnings():  # int8 tensors rebuild through APIs torch marks deprecated
            warnings.simplefilter("ignore", UserWarning)
            blob = torch.load(io.BytesIO(data), weights_only=True)
        meta = json.loads(bytes(blob.pop("meta_json").tolist()).decode())
    except Exception as e:
        raise ConsoleError(
            f"model artifact {path} is not a tensor file this version wrote ({type(e).__name__}); {fix}"
        ) from None
    return blob, meta
