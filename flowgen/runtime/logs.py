"""`--log-format json`: one JSON object per log line, for log pipelines (CloudWatch, ELK).

Every object has `time` (ISO 8601, UTC), `level`, `logger` and `message`; a line about an
execution adds `domain`, `workflow_id` and `run_id`, and one about an activity task adds
`activity_id`, `activity_type`, `instance` (the activity id without its attempt mark) and
`attempt`. A traceback goes in `exception`. Text stays the default.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys

from .ids import split_attempt_id

# The ids the decider and the worker pass as `extra`, in the order a line shows them.
FIELDS = ("domain", "workflow_id", "run_id", "activity_id", "activity_type", "instance", "attempt")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        data: dict[str, object] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        found = record.__dict__
        activity_id = found.get("activity_id")
        for key in FIELDS:
            if key in found and found[key] is not None:
                data[key] = found[key]
        if isinstance(activity_id, str) and "instance" not in data:
            data["instance"] = split_attempt_id(activity_id)[0]
            data.setdefault("attempt", split_attempt_id(activity_id)[1])
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def log_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="text lines (default) or one JSON object per line, with the execution, activity, "
        "instance and attempt ids",
    )


# The AWS SDK's own loggers say at INFO what is routine ("Found credentials in environment
# variables"): a command's one-line error would come with a second line. --log-level DEBUG shows them.
SDK_LOGGERS = ("boto3", "botocore", "s3transfer", "urllib3")


def configure(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    if logging.getLevelName(level) != logging.DEBUG:
        for name in SDK_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
