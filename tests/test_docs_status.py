"""The status table and the timeline picture that README.md and docs/ show, made by the commands.

`make(folder)` runs the country flow (generated/country_flow, its handlers in examples/) on moto in
this process, as tests/test_e2e_moto.py does: the package's registration and starter, then its
decider and one worker polled in turn. The handler fails at its default rate (one fetch in five)
with a fixed COUNTRY_FLOW_SEED, so the same two fetches fail every time and are retried. Time is a
virtual clock's (`moto_swf.ManualClock`), which moto stamps on every event: each handler call
takes one second of it, a decision none, and a retry timer fires once its wait is over, so the
times are the same on every run and the waits (10 s, 20 s, 40 s) are the spec's. Then the
package's own `country_flow.status` main is called as a shell would, twice: for the text table
(its random run id replaced by `RUN`) and with `--timeline`. The results are committed:

- docs/country_flow_status.txt, also shown in README.md and docs/running-on-swf.md in the fenced
  block after `<!-- country-flow-status -->`;
- docs/country_flow_timeline.svg, the picture both show.

The tests make both again and compare them byte for byte with what is committed, and each
marked block with its file; docs/running-on-swf.md's order_flow table (after
`<!-- order-flow-status -->`) is compared with tests/status/order_flow_failed.txt, which
tests/test_operate_moto.py holds the command to. When the commands' output changes on purpose,
write everything again and review the diff:

    python tests/test_docs_status.py --update
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import io
import logging
import pathlib
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from typing import Any

import moto.swf.models.history_event as moto_history
import pytest
from moto import mock_aws

TESTS = pathlib.Path(__file__).resolve().parent
for folder in (TESTS, TESTS.parent):  # moto_swf, and examples/ (also when run as a script)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from chromium import assert_not_blank, needs_chromium, screenshot  # noqa: E402
from moto_swf import (  # noqa: E402
    AWS_ENV,
    GENERATED,
    REGION,
    ROOT,
    ManualClock,
    execution_info,
    failing_attempts,
    no_empty_poll_sleep,
)

if str(GENERATED) not in sys.path:
    sys.path.append(str(GENERATED))

import country_flow.flow  # noqa: E402
import country_flow.status  # noqa: E402
from country_flow.engine.polling import DeciderLoop  # noqa: E402
from country_flow.engine.register import register  # noqa: E402
from country_flow.engine.swf import client as swf_client  # noqa: E402

PLAN = country_flow.flow.PLAN
DOCS = ROOT / "docs"
TABLE = DOCS / "country_flow_status.txt"
PICTURE = DOCS / "country_flow_timeline.svg"
ORDER_TABLE = TESTS / "status" / "order_flow_failed.txt"
# Where the table is shown: each file's block after `<!-- country-flow-status -->`.
SHOWN_IN = (ROOT / "README.md", DOCS / "running-on-swf.md")
UPDATE = "python tests/test_docs_status.py --update"

WORKFLOW_ID = "country-2024-01-01"
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]
COUNTRIES = [250, 276, 380, 724]
# The handler's draws with this seed at its default failure rate of 0.2, for the input above: the
# fetch of country 724 on 2024-01-01 fails once, that of 380 on 2024-01-02 three times; both then
# complete (the spec allows 3 retries), after waits of 10 s, and of 10 s, 20 s and 40 s.
SEED, RATE = "docs-11", "0.2"
FAILS = {("2024-01-01", 724): 1, ("2024-01-02", 380): 3}
# 2024-01-01 06:00:00 UTC: the execution's start.
EPOCH = 1_704_088_800


def seeded_failures() -> dict[tuple[str, int], int]:
    """How many times each (day, country) fails before it completes, by the handler's own draw."""
    found = {(d, c): failing_attempts(SEED, float(RATE), c, d) for d in DAYS for c in COUNTRIES}
    return {key: n for key, n in found.items() if n}


def _drive(client: Any, clock: ManualClock, run_id: str, rounds: int = 1000) -> None:
    """Poll the decider, then the worker, until the execution closes.

    Time is the virtual clock's: each handler call takes a second of it, and each round first
    fires the timers whose wait is over; when nothing is left to do, the clock jumps to the next.
    """
    from country_flow.worker import Worker, spec_handlers

    def one_second(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)  # the worker reads the signature: does it take `context`?
        def timed(**kwargs: Any) -> Any:
            clock.now += 1.0
            return handler(**kwargs)

        return timed

    decider = DeciderLoop(PLAN, client, identity="decider")
    handlers = {name: one_second(handler) for name, handler in spec_handlers().items()}
    worker = Worker(handlers, client, identity="worker")
    for _ in range(rounds):
        if execution_info(client, PLAN.domain, WORKFLOW_ID, run_id)["executionStatus"] == "CLOSED":
            return
        busy = clock.fire_due() > 0
        busy = decider.poll_once() or busy
        for task_list in worker.task_lists:
            busy = worker.poll_once(task_list) or busy
        if not busy and not clock.fire_next():
            raise AssertionError("nothing to do and no timer pending, yet the execution is open")
    raise AssertionError(f"the execution did not close in {rounds} rounds")


def _status(argv: Sequence[str]) -> str:
    """`python -m country_flow.status ARGV`'s stdout; it must exit 0 and print nothing on stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = country_flow.status.main(["--region", REGION, *argv])
    assert (code, err.getvalue()) == (0, ""), f"status {' '.join(argv)} exited {code}: {err.getvalue()}"
    return out.getvalue()


def make(folder: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """Run the country flow on moto and write the status table and the timeline into `folder`."""
    from country_flow.starter import start

    table, picture = folder / TABLE.name, folder / PICTURE.name
    with pytest.MonkeyPatch.context() as patch:
        for name, value in AWS_ENV.items():
            patch.setenv(name, value)
        patch.setenv("COUNTRY_FLOW_FAILURE_RATE", RATE)
        patch.setenv("COUNTRY_FLOW_SEED", SEED)
        no_empty_poll_sleep(patch)
        clock = ManualClock.install(patch)
        patch.setattr(moto_history, "unix_time", lambda: EPOCH + clock.now)
        # The worker logs each failing fetch; the table and the picture say it all.
        quiet = logging.root.manager.disable
        logging.disable(logging.CRITICAL)
        with contextlib.ExitStack() as stack:
            stack.callback(logging.disable, quiet)
            stack.enter_context(mock_aws())
            client = swf_client(region=REGION)
            register(PLAN, client)
            given = {"days": [datetime.date.fromisoformat(d) for d in DAYS], "countries": COUNTRIES}
            _, run_id = start(given, client, WORKFLOW_ID)
            _drive(client, clock, run_id)
            text = _status(["--workflow-id", WORKFLOW_ID])
            again = _status(["--workflow-id", WORKFLOW_ID, "--timeline", str(picture)])
    assert again == text, "status --timeline printed another table"
    assert f"(run {run_id})" in text
    table.write_text(text.replace(run_id, "RUN"))
    return table, picture


def block(doc: pathlib.Path, marker: str) -> re.Match[str]:
    """The fenced block right after `<!-- marker -->` in `doc`; group 1 is its text."""
    found = re.search(rf"^<!-- {marker} -->\n```[a-z]*\n(.*?)^```$", doc.read_text(), re.M | re.S)
    assert found, f"{doc.relative_to(ROOT)} has no block marked <!-- {marker} -->"
    return found


def _blocks() -> list[tuple[pathlib.Path, str, pathlib.Path]]:
    """(document, marker, the file its block shows) for every marked status table."""
    shown = [(doc, "country-flow-status", TABLE) for doc in SHOWN_IN]
    return [*shown, (DOCS / "running-on-swf.md", "order-flow-status", ORDER_TABLE)]


# -- the tests -----------------------------------------------------------------------------------


def test_the_seed_fails_the_fetches_the_docs_say() -> None:
    assert seeded_failures() == FAILS


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, pathlib.Path]:
    return make(tmp_path_factory.mktemp("docs"))


@pytest.mark.parametrize("name", [TABLE.name, PICTURE.name])
def test_the_committed_file_is_what_the_commands_make(
    made: tuple[pathlib.Path, pathlib.Path], name: str
) -> None:
    new = next(path for path in made if path.name == name).read_bytes()
    committed = DOCS / name
    assert committed.exists(), f"docs/{name} is missing; make it with: {UPDATE}"
    assert new == committed.read_bytes(), (
        f"docs/{name} is not what `country_flow.status` makes now; make it again with: {UPDATE}"
        " (then review the diff)"
    )


def test_the_table_shows_the_retries() -> None:
    rows = {line.split()[0]: line.split()[1:] for line in TABLE.read_text().splitlines() if line.strip()}
    assert rows["execution"] == [WORKFLOW_ID, "(run", "RUN)"]
    assert rows["status"] == ["COMPLETED"]
    # activity_2: 12 instances, all completed, in 12 + 4 attempts.
    instances = len(DAYS) * len(COUNTRIES)
    assert rows["activity_2"][:8] == [str(n) for n in (instances, instances, 0, 0, 0, 0, 0)] + [
        str(instances + sum(FAILS.values()))
    ]


@pytest.mark.parametrize(("doc", "marker", "source"), _blocks(), ids=lambda x: getattr(x, "name", x))
def test_the_docs_show_the_table(doc: pathlib.Path, marker: str, source: pathlib.Path) -> None:
    assert block(doc, marker).group(1) == source.read_text(), (
        f"{doc.relative_to(ROOT)}'s block after <!-- {marker} --> is not "
        f"{source.relative_to(ROOT)}; copy it there with: {UPDATE}"
    )


def test_the_docs_show_the_picture() -> None:
    for doc in SHOWN_IN:
        target = PICTURE.relative_to(doc.parent) if doc.parent == DOCS else PICTURE.relative_to(ROOT)
        assert re.search(
            rf"!\[[^]]+\]\({re.escape(str(target))}\)", doc.read_text()
        ), f"{doc.relative_to(ROOT)} does not show {target}"


def test_the_picture_is_an_svg_of_every_instance() -> None:
    ns = "{http://www.w3.org/2000/svg}"
    root = ET.parse(PICTURE).getroot()
    assert root.tag == ns + "svg"
    rows = [g for g in root.iter(ns + "g") if "row" in (g.get("class") or "").split()]
    assert len(rows) == 1 + len(DAYS) * len(COUNTRIES) + 1  # activity_1, each fetch, activity_3
    bars = {
        (row.findtext(ns + "text") or ""): [
            r.get("class") for r in row.iter(ns + "rect") if "attempt" in (r.get("class") or "")
        ]
        for row in rows
    }
    # The failed fetches, by their instance ids (day by day, then country by country).
    failed = {
        f"activity_2-{DAYS.index(d) * len(COUNTRIES) + COUNTRIES.index(c)}": n for (d, c), n in FAILS.items()
    }
    assert failed == {"activity_2-3": 1, "activity_2-6": 3}  # as README.md and the docs say
    for name, found in bars.items():
        assert found == ["attempt failed"] * failed.get(name, 0) + ["attempt completed"], name


@needs_chromium
def test_chromium_renders_the_picture(tmp_path: pathlib.Path) -> None:
    root = ET.parse(PICTURE).getroot()
    width, height = int(root.get("width") or 0), int(root.get("height") or 0)
    assert_not_blank(screenshot(PICTURE, tmp_path / "timeline.png", width, height))


# -- python tests/test_docs_status.py --update ---------------------------------------------------


def update(folder: pathlib.Path) -> list[str]:
    """Make the table and the picture again, and copy every table into the blocks that show it."""
    changed: list[str] = []
    say = changed.append
    for made_file in make(folder):
        target = DOCS / made_file.name
        if not target.exists() or target.read_bytes() != made_file.read_bytes():
            shutil.copyfile(made_file, target)
            say(f"wrote {target.relative_to(ROOT)}")
    for doc, marker, source in _blocks():
        found = block(doc, marker)
        if found.group(1) != source.read_text():
            text = doc.read_text()
            doc.write_text(text[: found.start(1)] + source.read_text() + text[found.end(1) :])
            say(f"wrote {doc.relative_to(ROOT)}'s block after <!-- {marker} -->")
    return changed


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: {UPDATE}")
    with tempfile.TemporaryDirectory() as tmp:
        print("\n".join(update(pathlib.Path(tmp))) or "docs are current")
