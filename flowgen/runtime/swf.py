"""Talking to Amazon SWF: the boto3 client every decider and worker uses, and shared plumbing.

Throttling and transient errors are first botocore's business: the client uses
its `standard` retry mode (exponential backoff with jitter, up to 10 attempts).
When SWF stays unreachable longer than that, the loops in `polling.py` and the
worker's reports back off and retry on their own (`polling.Backoff`).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from .limits import MAX_IDENTITY

if TYPE_CHECKING:
    from mypy_boto3_swf import SWFClient

# SWF holds a poll open for up to 60 s; the socket must wait longer than that.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 75
MAX_ATTEMPTS = 10
# A person waits on status, cancel and terminate: botocore's own default for the standard mode,
# so an endpoint that is down says so in seconds rather than after ten attempts (about 20 s).
OPERATOR_ATTEMPTS = 3
# Pollers and their heartbeat threads share one client; keep a connection each.
MAX_POOL_CONNECTIONS = 50


def client(
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> SWFClient:
    """A boto3 SWF client with botocore's standard retries and long-poll-safe timeouts.

    `region` and `profile` default to boto3's usual lookup (environment, config
    files); `endpoint_url` points at another endpoint, such as a local emulator.
    """
    session = boto3.session.Session(profile_name=profile, region_name=region)
    config = Config(
        # total_max_attempts counts the first request too; botocore's `max_attempts` counts retries only.
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        max_pool_connections=MAX_POOL_CONNECTIONS,
        user_agent_extra="flowgen",
    )
    swf: SWFClient = session.client("swf", endpoint_url=endpoint_url, config=config)
    return swf


def default_identity(role: str) -> str:
    """`host:pid:role`, within SWF's 256 characters; shows in the history who did what."""
    text = f"{socket.gethostname()}:{os.getpid()}:{role}"
    return text[-MAX_IDENTITY:]


def stop_on_signals(stop: threading.Event, signals: Iterable[int] = (signal.SIGTERM,)) -> Callable[[], None]:
    """Set `stop` when one of `signals` arrives; returns a function that restores the old handlers.

    Python runs signal handlers in the main thread only, so this must be called there.
    """
    return on_signals(lambda signum: stop.set(), signals)


def on_signals(call: Callable[[int], None], signals: Iterable[int]) -> Callable[[], None]:
    """Call `call(signum)` when one of `signals` arrives; returns a function that restores the old handlers."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("signal handlers can only be installed from the main thread")

    def handler(signum: int, frame: Any) -> None:
        call(signum)

    previous = {number: signal.signal(number, handler) for number in signals}

    def restore() -> None:
        for number, old in previous.items():
            signal.signal(number, old)

    return restore
