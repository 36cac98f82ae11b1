"""Handlers of specs/etl.yaml: one extract per (day, region), checks and aggregates after the load.

`load_warehouse` has `external: true`: it is a Spark job written in Java that polls the
`spark-loaders` task list, so it has no handler here.

Row counts are derived from a hash of (dataset, day, region), so the same partition always has the
same rows, as a real source table would for a closed day. Extracted files go to an in-memory
object store, `STORE`, keyed by path. Output types come from the generated package
(generated/regional_etl/types.py), imported only for type checking.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    # Handlers depend on the generated package's types, never the reverse.
    from regional_etl.types import (
        BaselineOutput,
        ExtractOutput,
        ListRegionsOutput,
        PublishReportOutput,
        QualityCheckOutput,
        RefreshAggregatesOutput,
    )

#: dataset -> the regions that hold data for it.
REGIONS: dict[str, list[str]] = {
    "events": ["eu-west", "eu-central", "us-east", "us-west", "ap-south", "ap-northeast"],
    "billing": ["eu-west", "us-east"],
}
BUCKET = "s3://analytics-staging"
#: path -> (rows, checksum) of every partition written.
STORE: dict[str, tuple[int, str]] = {}
#: a check passes when its score is at least this.
PASS_SCORE = 0.95


class ThrottledError(Exception):
    """The source database asked us to slow down. Retried with backoff and jitter (see the spec)."""


class UnknownDataset(LookupError):
    """No regions are known for the dataset. Final: not in the spec's retry.errors."""


class Context(Protocol):
    """The part of the running task's context these handlers use."""

    def heartbeat(self, details: str) -> None: ...


def _rows(dataset: str, day: datetime.date, region: str) -> int:
    digest = hashlib.sha256(f"{dataset}/{day.isoformat()}/{region}".encode()).digest()
    return 50_000 + int.from_bytes(digest[:2], "big") % 1_000


def list_regions(dataset: str) -> ListRegionsOutput:
    """The regions to extract, in a stable order."""
    regions = REGIONS.get(dataset)
    if regions is None:
        raise UnknownDataset(f"no regions known for dataset {dataset!r}; known: {', '.join(sorted(REGIONS))}")
    return {"regions": list(regions)}


def baseline_rows(dataset: str, day: datetime.date) -> BaselineOutput:
    """Rows of an average partition (one region) on one day of the reference week."""
    regions = REGIONS.get(dataset, [])
    if not regions:
        raise UnknownDataset(f"no regions known for dataset {dataset!r}")
    return {"rows": sum(_rows(dataset, day, region) for region in regions) // len(regions)}


def extract_partition(dataset: str, day: datetime.date, region: str, context: Context) -> ExtractOutput:
    """Write one (day, region) partition; `context.heartbeat` keeps the 2m heartbeat alive.

    `context` is the running task's context (the generated package's TaskContext).
    """
    if region not in REGIONS.get(dataset, []):
        raise UnknownDataset(f"dataset {dataset!r} has no region {region!r}")
    rows = _rows(dataset, day, region)
    context.heartbeat(f"{rows} rows read")
    path = f"{BUCKET}/{dataset}/dt={day.isoformat()}/region={region}/part-0.parquet"
    checksum = hashlib.sha256(f"{path}:{rows}".encode()).hexdigest()
    STORE[path] = (rows, checksum)
    return {"rows": rows, "path": path, "checksum": checksum}


def quality_check(
    check: str,
    first_bucket: int,
    table: str,
    loaded_rows: int,
    extracted_rows: list[int],
    baseline_rows: list[int],
) -> QualityCheckOutput:
    """Score one check over the key buckets [first_bucket, first_bucket + 25)."""
    extracted = sum(extracted_rows)
    metrics: dict[str, float] = {"bucket": float(first_bucket)}
    if check == "row_count":
        # Everything extracted must be loaded.
        score = min(loaded_rows, extracted) / extracted if extracted else 1.0
        metrics["missing_rows"] = float(max(extracted - loaded_rows, 0))
    elif check == "null_ratio":
        # Partitions far below the reference week's average smell of rows dropped upstream.
        average = sum(baseline_rows) / len(baseline_rows) if baseline_rows else 0.0
        per_partition = extracted / len(extracted_rows) if extracted_rows else 0.0
        score = min(per_partition / average, 1.0) if average else 1.0
        metrics["baseline_average"] = round(average, 2)
    elif check == "duplicate_keys":
        duplicates = max(loaded_rows - extracted, 0)
        score = 1.0 - duplicates / loaded_rows if loaded_rows else 1.0
        metrics["duplicates"] = float(duplicates)
    else:
        raise ValueError(f"unknown check {check!r}")
    score = round(score, 4)
    return {"check": check, "passed": score >= PASS_SCORE, "score": score, "metrics": metrics}


def refresh_aggregates(
    shard: int, shards: int, table: str, start: datetime.date, end: datetime.date
) -> RefreshAggregatesOutput:
    """Rebuild shard `shard` of `shards` of the daily aggregates over [start, end]."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is not in 0..{shards - 1}")
    days = (end - start).days + 1
    digest = hashlib.sha256(f"{table}#{shard}".encode()).digest()
    return {"shard": shard, "rows": days * (100 + digest[0])}


def publish_report(
    dataset: str,
    checks: list[QualityCheckOutput],
    aggregate_rows: list[int],
    end: datetime.date,
    requested_at: datetime.datetime,
) -> PublishReportOutput:
    """One summary of the run; the window closes at midnight UTC after `end`."""
    failed = sorted({c["check"] for c in checks if not c["passed"]})
    closed_at = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time(), datetime.UTC)
    report: dict[str, Any] = {
        "dataset": dataset,
        "requested_at": requested_at.isoformat(),
        "checks": len(checks),
        "failed_checks": failed,
        "worst_score": min((c["score"] for c in checks), default=1.0),
        "aggregate_rows": sum(aggregate_rows),
        "status": "ok" if not failed else "attention",
    }
    return {"report": report, "window_closed_at": closed_at}
