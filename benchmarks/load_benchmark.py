"""How long loading a hostile spec takes: JSON with many escaped surrogate pairs, and deep nesting.

A JSON writer escapes every character beyond U+FFFF as a surrogate pair (json.dumps writes "🙂"
as "\\ud83d\\ude42"); YAML refuses those escapes, so the loader joins each pair first. This times
`flowgen.load.load_text` on specs holding N such pairs, on one line and one per line, on text
nested 10,000 levels deep (refused at flowgen's limit of 100), and on a 1 MiB shallow list with a
syntax error at its end. Best of three, wall seconds.

    .venv/bin/python benchmarks/load_benchmark.py
    .venv/bin/python benchmarks/load_benchmark.py --pairs 1000 20000 80000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from flowgen.load import LoadError, load_text


def _best_of_three(action: Callable[[], object]) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def _spec_with_pairs(pairs: int, separator: str) -> str:
    values = f",{separator}".join(['"\\ud83d\\ude42"'] * pairs)
    return (
        '{"flowgen": 1, "domain": "dev", "workflow": {"name": "w", "version": "1"},'
        f' "activities": {{"a": {{"handler": "m:f", "description": [{values}]}}}}}}'
    )


def _flow_list_with_an_error(size: int) -> str:
    """A shallow JSON list of `size` characters whose last item is missing a colon."""
    item = '{"b": [1, -2]}'
    return '{"a": [' + ", ".join([item] * ((size - 20) // (len(item) + 2))) + ', {"b" 1}]}\n'


def _refused(text: str) -> Callable[[], object]:
    def load() -> object:
        try:
            return load_text(text)
        except LoadError as error:
            return error

    return load


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, nargs="+", default=[1_000, 5_000, 20_000, 80_000])
    arguments = parser.parse_args()
    print(f"{'input':<44} {'characters':>10} {'seconds':>8}")
    for pairs in arguments.pairs:
        for layout, separator in (("one line", " "), ("one per line", "\n")):
            text = _spec_with_pairs(pairs, separator)
            seconds = _best_of_three(lambda text=text: load_text(text))
            print(f"{f'{pairs:,} surrogate pairs, {layout}':<44} {len(text):>10,} {seconds:>8.3f}")
    for name, text in (
        ("[ nested 10,000 deep", "[" * 10_000 + "]" * 10_000),
        ("- nested 10,000 deep", "- " * 10_000 + "x\n"),
        ("1 MiB flow list, a syntax error at its end", _flow_list_with_an_error(1024 * 1024)),
    ):
        print(f"{name:<44} {len(text):>10,} {_best_of_three(_refused(text)):>8.3f}")


if __name__ == "__main__":
    main()
