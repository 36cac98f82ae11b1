"""The handler of tests/e2e/rollout_flow.yaml: says which release ran it, and which worker."""

from __future__ import annotations

import os


def greet(name: str, release: str) -> dict[str, str]:
    return {"text": f"hello {name} from {release} ({os.environ.get('ROLLOUT_WORKER', '?')})"}
