"""Values too large for SWF, kept in S3 (or a folder, or memory) and passed by reference.

SWF carries at most 32,768 characters in each input and result. With a spec's
`payloads: {s3: s3://BUCKET/PREFIX}`, any value whose JSON is over the
threshold is stored as an object and SWF carries a reference instead:

    {"$flowgen_payload": {"key": "PREFIX/WORKFLOW/WORKFLOW_ID/RUN_ID/SHA256", "size": BYTES, "sha256": SHA256}}

Its one key starts with `$`, which no field name of a spec can (they are
Python identifiers), so no flowgen value is ever mistaken for a reference.
Keys are content-addressed, so storing the same value twice (a retried upload,
a redelivered task) writes the same bytes to the same key. The workflow input
is stored before SWF gives the execution a run id, under
`PREFIX/WORKFLOW/WORKFLOW_ID/input/SHA256`.

Everything happens at the edges, never in `decide`: the decider loop resolves
the references in the history it reads and offloads what its decisions carry,
the worker resolves its task's input and offloads its result, the starter
offloads the workflow input. Readers check the size and sha256 of what they
read; a value that is missing or does not match is a `PayloadError`, never a
wrong value. Texts already read are kept in a `PayloadCache` keyed by sha256
(content-addressed, so an entry never goes stale), so a decider downloads each
value once, not on every decision task.

No boto3 at import time: the local runner and `flowgen run` use this module too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .limits import MAX_PAYLOAD
from .plan import FlowPlan, PayloadsPlan

# The default threshold, and the largest allowed: just under SWF's 32,768 characters.
DEFAULT_THRESHOLD = 32_000
# The one key of a reference.
REFERENCE_KEY = "$flowgen_payload"
# How every reference's text begins (compact JSON, as `_reference` writes it).
_REFERENCE_START = '{"' + REFERENCE_KEY + '":'
# S3's longest key, in bytes of UTF-8.
MAX_KEY_BYTES = 1024
# The longest prefix a spec may give, so that every key fits with room for the rest.
MAX_PREFIX = 200
# The longest text of a reference: its key (at most MAX_KEY_BYTES), size and sha256, as JSON.
MAX_REFERENCE = 1200
# How many bytes of values a decider keeps in memory by default.
CACHE_BYTES = 256 * 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}\Z")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+\Z")
_PREFIX_PART = re.compile(r"^[A-Za-z0-9._-]+\Z")
# Prefixes and suffixes S3 reserves in bucket names.
_BUCKET_RESERVED_START = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_END = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


class PayloadError(Exception):
    """A value that cannot be stored or read back. `permanent`: it will not get better by trying again
    (a missing object, one whose sha256 differs, a malformed reference)."""

    def __init__(self, message: str, permanent: bool = True) -> None:
        super().__init__(message)
        self.permanent = permanent


# -- the spec's location -----------------------------------------------------------


def s3_location_problem(text: str) -> str | None:
    """Why `text` is not `s3://BUCKET` or `s3://BUCKET/PREFIX` as flowgen takes it, or None."""
    if not text.startswith("s3://"):
        return f"expected s3://BUCKET/PREFIX, found {json.dumps(text)}"
    bucket, _, prefix = text[len("s3://") :].partition("/")
    if not _BUCKET.match(bucket) or ".." in bucket or _IP_ADDRESS.match(bucket):
        return (
            f"{json.dumps(bucket)} is not an S3 bucket name: 3 to 63 lower-case letters, digits, dots "
            "and hyphens, starting and ending with a letter or digit, no two dots in a row, not an IP address"
        )
    if bucket.startswith(_BUCKET_RESERVED_START) or bucket.endswith(_BUCKET_RESERVED_END):
        return f"{json.dumps(bucket)} is not an S3 bucket name: S3 reserves its prefix or suffix"
    if not prefix:
        return (
            None if not text.endswith("/") else "leave out the trailing / (s3://BUCKET or s3://BUCKET/PREFIX)"
        )
    if len(prefix) > MAX_PREFIX:
        return f"the prefix is {len(prefix)} characters; at most {MAX_PREFIX}, so that every key fits S3's"
    for part in prefix.split("/"):
        if not part:
            return "the prefix has an empty part (a leading, trailing or doubled /)"
        if part in (".", "..") or not _PREFIX_PART.match(part):
            return (
                f"the prefix part {json.dumps(part)} may hold only ASCII letters, digits, '.', '_' and '-' "
                "(and not be . or ..)"
            )
    return None


def split_location(text: str) -> tuple[str, str]:
    """`s3://BUCKET/PREFIX` as (bucket, prefix); the prefix is "" when there is none."""
    bucket, _, prefix = text[len("s3://") :].partition("/")
    return bucket, prefix


def object_key(prefix: str, workflow: str, workflow_id: str, run_id: str, sha256: str) -> str:
    """`PREFIX/WORKFLOW/WORKFLOW_ID/RUN_ID/SHA256`; a name too long for S3's 1,024 bytes is its sha256."""
    parts = [workflow, workflow_id, run_id]
    rest = "/".join([*parts, sha256])
    if len((prefix + "/" + rest).encode()) > MAX_KEY_BYTES:
        rest = "/".join([*(hashlib.sha256(part.encode()).hexdigest() for part in parts), sha256])
    return f"{prefix}/{rest}" if prefix else rest


# -- references --------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    key: str
    size: int
    sha256: str

    def text(self) -> str:
        body = {"key": self.key, "size": self.size, "sha256": self.sha256}
        return json.dumps({REFERENCE_KEY: body}, separators=(",", ":"), ensure_ascii=False)


def is_reference(text: object) -> bool:
    return isinstance(text, str) and text.startswith(_REFERENCE_START)


def parse_reference(text: str) -> Reference:
    """The reference `text` holds; PayloadError when it is not one flowgen wrote."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    body = data.get(REFERENCE_KEY) if isinstance(data, dict) and len(data) == 1 else None
    if (
        not isinstance(body, dict)
        or set(body) != {"key", "size", "sha256"}
        or not isinstance(body["key"], str)
        or type(body["size"]) is not int
        or not isinstance(body["sha256"], str)
        or not _SHA256.match(body["sha256"])
    ):
        raise PayloadError(f"a malformed payload reference: {text[:200]}")
    return Reference(body["key"], body["size"], body["sha256"])


def too_large(what: str, size: int) -> str:
    """The message for a value over SWF's limit in a flow without `payloads`."""
    return (
        f"{what} is {size:,} characters as JSON; SWF allows {MAX_PAYLOAD:,}: "
        "set payloads.s3 in the spec to keep larger values in S3"
    )


# -- stores ------------------------------------------------------------------------


class Store(Protocol):
    """Where values are kept: bytes by key. `get` raises PayloadError when there is no such object."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...


class MemoryStore:
    """Values in a dict: `flowgen run` and `PKG.local`."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self.objects[key] = data

    def get(self, key: str) -> bytes:
        with self._lock:
            found = self.objects.get(key)
        if found is None:
            raise PayloadError(f"no stored value at {key}")
        return found


class FolderStore:
    """Values as files under a folder, one per key; each part of a key is %-escaped into a file name,
    so a workflow id such as `..` never leaves the folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)

    def path(self, key: str) -> str:
        parts = [urllib.parse.quote(part, safe="").replace(".", "%2E", 1) for part in key.split("/")]
        return os.path.join(self.root, *parts)

    def put(self, key: str, data: bytes) -> None:
        path = self.path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # Written whole, then renamed: a reader never sees half a value.
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".partial-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise

    def get(self, key: str) -> bytes:
        try:
            with open(self.path(key), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            raise PayloadError(f"no stored value at {key}") from None


class S3Store:
    """Values as objects in one bucket, through a boto3 S3 client."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="application/json")

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404"):
                raise PayloadError(f"no object s3://{self.bucket}/{key}") from None
            raise
        data: bytes = response["Body"].read()
        return data


def s3_client(region: str | None = None, endpoint_url: str | None = None, profile: str | None = None) -> Any:
    """A boto3 S3 client with botocore's standard retries, as `swf.client` makes SWF's.

    Without `endpoint_url`, botocore's own AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL apply.
    """
    import boto3
    from botocore.config import Config

    from .swf import CONNECT_TIMEOUT, MAX_ATTEMPTS, MAX_POOL_CONNECTIONS

    session = boto3.session.Session(profile_name=profile, region_name=region)
    config = Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=60,
        max_pool_connections=MAX_POOL_CONNECTIONS,
        user_agent_extra="flowgen",
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


# -- the cache ---------------------------------------------------------------------


class PayloadCache:
    """Texts by sha256, least recently used dropped past `max_bytes` (counted as UTF-8); thread-safe."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._texts: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._texts)

    def get(self, sha256: str) -> str | None:
        with self._lock:
            found = self._texts.get(sha256)
            if found is None:
                self.misses += 1
                return None
            self._texts.move_to_end(sha256)
            self.hits += 1
            return found[0]

    def put(self, sha256: str, text: str, size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            if sha256 in self._texts:
                self._texts.move_to_end(sha256)
                return
            self._texts[sha256] = (text, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._texts.popitem(last=False)
                self._bytes -= dropped


# -- offloading and resolving ------------------------------------------------------

Event = dict[str, Any]

# History events whose attribute may hold a reference, and what the value is.
_EVENT_VALUES = {
    "WorkflowExecutionStarted": ("workflowExecutionStartedEventAttributes", "input"),
    "ActivityTaskScheduled": ("activityTaskScheduledEventAttributes", "input"),
    "ActivityTaskCompleted": ("activityTaskCompletedEventAttributes", "result"),
    "StartChildWorkflowExecutionInitiated": ("startChildWorkflowExecutionInitiatedEventAttributes", "input"),
    "ChildWorkflowExecutionCompleted": ("childWorkflowExecutionCompletedEventAttributes", "result"),
}
# Decisions whose attribute may be too large for SWF.
_DECISION_VALUES = {
    "ScheduleActivityTask": ("scheduleActivityTaskDecisionAttributes", "input"),
    "CompleteWorkflowExecution": ("completeWorkflowExecutionDecisionAttributes", "result"),
    "StartChildWorkflowExecution": ("startChildWorkflowExecutionDecisionAttributes", "input"),
    "ContinueAsNewWorkflowExecution": ("continueAsNewWorkflowExecutionDecisionAttributes", "input"),
}


class Payloads:
    """Offloading and resolving for one flow: its `payloads` settings (None when the spec has none),
    its store (or a function that makes it, called once, when a value first needs it) and a cache.

    Without settings, `offload` returns every text as it is (SWF refuses what is too large, and the
    engine says so first), and `resolve` still reads references from a store if it has one.
    """

    def __init__(
        self,
        settings: PayloadsPlan | None,
        workflow: str,
        store: Store | Callable[[], Store] | None = None,
        cache: PayloadCache | None = None,
    ) -> None:
        self.settings = settings
        self.workflow = workflow
        self._store = store
        self._made: Store | None = None
        self._lock = threading.Lock()
        self.cache = cache if cache is not None else PayloadCache()

    @property
    def active(self) -> bool:
        return self.settings is not None

    @property
    def threshold(self) -> int:
        return self.settings.threshold if self.settings is not None else MAX_PAYLOAD

    def store(self) -> Store:
        if self._made is None:
            with self._lock:
                if self._made is None:
                    if self._store is None:
                        raise PayloadError("this flow has no payloads key, so values are not kept in S3")
                    self._made = self._store() if callable(self._store) else self._store
        return self._made

    def offload(self, text: str, workflow_id: str, run_id: str) -> str:
        """`text` itself, or a reference once it is stored when it is over the threshold."""
        if self.settings is None or len(text) <= self.threshold:
            return text
        data = text.encode()
        sha256 = hashlib.sha256(data).hexdigest()
        key = object_key(self.settings.prefix, self.workflow, workflow_id, run_id, sha256)
        try:
            self.store().put(key, data)
        except PayloadError:
            raise
        except Exception as error:
            raise PayloadError(f"could not store {key}: {_describe(error)}", permanent=False) from error
        self.cache.put(sha256, text, len(data))
        return Reference(key, len(data), sha256).text()

    def resolve(self, text: str, what: str) -> str:
        """The value `text` stands for: itself, or what its reference points at, checked."""
        if not is_reference(text):
            return text
        try:
            reference = parse_reference(text)
        except PayloadError as error:
            raise PayloadError(f"{what}: {error}") from None
        cached = self.cache.get(reference.sha256)
        if cached is not None:
            return cached
        try:
            data = self.store().get(reference.key)
        except PayloadError as error:
            raise PayloadError(f"{what} cannot be read: {error}", error.permanent) from None
        except Exception as error:
            raise PayloadError(
                f"{what} cannot be read from {reference.key}: {_describe(error)}", permanent=False
            ) from error
        found = hashlib.sha256(data).hexdigest()
        if found != reference.sha256 or len(data) != reference.size:
            raise PayloadError(
                f"{what} at {reference.key} is not the value that was stored: its sha256 is {found} "
                f"({len(data):,} bytes), the reference says {reference.sha256} ({reference.size:,} bytes)"
            )
        try:
            value = data.decode()
        except UnicodeDecodeError:
            raise PayloadError(f"{what} at {reference.key} is not UTF-8") from None
        self.cache.put(reference.sha256, value, len(data))
        return value

    def resolve_events(self, events: list[Event], start: int = 0) -> list[Event]:
        """`events[start:]` with every reference replaced by its value; events that change are
        copies, so a history cache keeps what SWF sent. The events before `start` (a warm task's,
        folded already) are not resolved again, only read to name an activity in an error."""
        new = events[start:] if start else events
        if not any(is_reference(_value(event)) for event in new):
            return new
        resolved: list[Event] = []
        for event in new:
            text = _value(event)
            if not is_reference(text):
                resolved.append(event)
                continue
            kind = str(event.get("eventType"))
            key, name = _EVENT_VALUES[kind]
            attributes = event[key]
            what = _event_what(kind, attributes, events)
            resolved.append({**event, key: {**attributes, name: self.resolve(str(text), what)}})
        return resolved

    def offload_decisions(
        self, decisions: list[dict[str, Any]], workflow_id: str, run_id: str
    ) -> list[dict[str, Any]]:
        """`decisions` with every value over the threshold stored and replaced by its reference."""
        if self.settings is None:
            return decisions
        out = []
        for decision in decisions:
            found = _DECISION_VALUES.get(decision.get("decisionType", ""))
            text = decision.get(found[0], {}).get(found[1]) if found else None
            if found is None or not isinstance(text, str) or len(text) <= self.threshold:
                out.append(decision)
                continue
            key, name = found
            stored = self.offload(text, workflow_id, run_id)
            out.append({**decision, key: {**decision[key], name: stored}})
        return out


def for_plan(
    plan: FlowPlan,
    store: Store | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
) -> Payloads:
    """The plan's payloads, in `store` or else in its S3 bucket (its client made when first needed)."""
    settings = plan.payloads
    if store is not None or settings is None:
        return Payloads(settings, plan.workflow, store)
    bucket = settings.bucket

    def make() -> Store:
        return S3Store(s3_client(region, endpoint_url, profile), bucket)

    return Payloads(settings, plan.workflow, make)


def _value(event: Event) -> object:
    found = _EVENT_VALUES.get(event.get("eventType", ""))
    if found is None:
        return None
    attributes = event.get(found[0])
    return attributes.get(found[1]) if isinstance(attributes, dict) else None


def _event_what(kind: str, attributes: dict[str, Any], events: list[Event]) -> str:
    if kind == "WorkflowExecutionStarted":
        return "the workflow input"
    if kind == "ActivityTaskScheduled":
        return f"the input of {attributes.get('activityId')}"
    if kind == "ActivityTaskCompleted":
        return f"the result of {_activity_id(events, attributes.get('scheduledEventId'))}"
    if kind == "StartChildWorkflowExecutionInitiated":
        return f"the input of child workflow {attributes.get('workflowId')}"
    return "the result of a child workflow"


def _activity_id(events: list[Event], scheduled: Any) -> str:
    """The activity id that ActivityTaskScheduled event `scheduled` records: at its place in a
    history whose ids run 1, 2, 3... (as the poller keeps them), else searched for."""
    at = scheduled - 1 if type(scheduled) is int and 0 < scheduled <= len(events) else None
    candidates = [events[at]] if at is not None and events[at].get("eventId") == scheduled else events
    for event in candidates:
        if event.get("eventId") == scheduled and event.get("eventType") == "ActivityTaskScheduled":
            return str(event.get("activityTaskScheduledEventAttributes", {}).get("activityId", ""))
    return "an activity"


def _describe(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())
