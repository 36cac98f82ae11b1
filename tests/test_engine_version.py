"""The engine's version names one engine: changing a file of flowgen/runtime/ means a new version.

`flowgen check` tells a user "built by flowgen X, this is Y" from the version alone, so two
different engines must never carry the same one. ENGINES records each release's digest of the
engine (every runtime module, as packages carry it); a change without a new version fails here.
"""

from __future__ import annotations

import hashlib

from flowgen.render import engine_sources
from flowgen.runtime import __version__

# version -> sha256 over the engine's files (name and text of each, in name order).
ENGINES = {
    "0.3.1": "d236e307b326a89c0d478112ff34d8371614bd20bb7bf9fea7c0aa781412e521",
}


def engine_digest() -> str:
    digest = hashlib.sha256()
    for name, text in sorted(engine_sources().items()):
        digest.update(f"{name}\0{len(text.encode())}\0".encode())
        digest.update(text.encode())
    return digest.hexdigest()


def test_the_engine_of_this_version_is_the_one_recorded() -> None:
    found = engine_digest()
    assert (
        __version__ in ENGINES
    ), f"flowgen {__version__} is not in ENGINES: add {__version__!r}: {found!r} to {__file__}"
    assert ENGINES[__version__] == found, (
        f"the engine changed but its version did not: give flowgen/runtime/__init__.py a new "
        f"__version__ and add it to ENGINES with {found!r}"
    )


def test_no_two_versions_record_one_engine() -> None:
    assert len(set(ENGINES.values())) == len(ENGINES)
