"""flowgen.load: data, positions of keys and values, YAML 1.2 scalars, refusals."""

from __future__ import annotations

import pytest
import yaml

import flowgen.load
from flowgen.diagnostics import Position
from flowgen.load import MAX_DEPTH, LoadError, load_bytes, load_text
from tests.work_meter import WorkMeter

SPEC = """\
flowgen: 1
domain: dev
workflow:
  name: demo
  input: {days: "list[date]", n: int}
activities:
  fetch:
    requires: [a, b]
    retry:
      max_retries: 3
"""


def _error(text: str) -> LoadError:
    with pytest.raises(LoadError) as caught:
        load_text(text)
    return caught.value


def test_data_is_plain_python() -> None:
    document = load_text(SPEC)
    assert document.data == {
        "flowgen": 1,
        "domain": "dev",
        "workflow": {"name": "demo", "input": {"days": "list[date]", "n": "int"}},
        "activities": {"fetch": {"requires": ["a", "b"], "retry": {"max_retries": 3}}},
    }


def test_mapping_order_is_kept() -> None:
    document = load_text("z: 1\na: 2\nm: 3\n")
    assert list(document.data) == ["z", "a", "m"]


@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        (("flowgen",), 1, 1),
        (("workflow",), 3, 1),
        (("workflow", "name"), 4, 3),
        (("workflow", "input", "days"), 5, 11),
        (("workflow", "input", "n"), 5, 31),
        (("activities", "fetch"), 7, 3),
        (("activities", "fetch", "retry", "max_retries"), 10, 7),
    ],
)
def test_key_positions(path: tuple[str, ...], line: int, column: int) -> None:
    assert load_text(SPEC).keys[path] == Position(line, column)


@pytest.mark.parametrize(
    ("path", "line", "column"),
    [
        ((), 1, 1),
        (("flowgen",), 1, 10),
        (("domain",), 2, 9),
        (("workflow", "name"), 4, 9),
        (("workflow", "input"), 5, 10),
        (("workflow", "input", "days"), 5, 17),
        (("activities", "fetch", "requires"), 8, 15),
        (("activities", "fetch", "requires", 0), 8, 16),
        (("activities", "fetch", "requires", 1), 8, 19),
        (("activities", "fetch", "retry", "max_retries"), 10, 20),
    ],
)
def test_value_positions(path: tuple[str | int, ...], line: int, column: int) -> None:
    assert load_text(SPEC).values[path] == Position(line, column)


def test_position_of_falls_back_to_the_nearest_ancestor() -> None:
    document = load_text(SPEC)
    assert document.position_of(("activities", "fetch", "handler")) == Position(8, 5)
    assert document.position_of(("nowhere", "at", "all")) == Position(1, 1)
    assert document.position_of(("activities", "fetch"), at_key=True) == Position(7, 3)


def test_data_path_maps_validator_locations() -> None:
    document = load_text(SPEC)
    assert document.data_path(("activities", "fetch", "retry", "max_retries")) == (
        ("activities", "fetch", "retry", "max_retries"),
        False,
    )
    # Union tags and function wrappers are not in the data; unknown keys are kept.
    assert document.data_path(("activities", "fetch", "function-after[check()]", "retry", "bogus")) == (
        ("activities", "fetch", "retry", "bogus"),
        False,
    )
    assert document.data_path(("workflow", "input", "days", "[key]")) == (
        ("workflow", "input", "days"),
        True,
    )


@pytest.mark.parametrize(
    "text",
    [
        "on",
        "off",
        "yes",
        "no",
        "y",
        "n",
        "On",
        "YES",
        "2024-01-01",
        "2024-01-01T10:00:00",
        "1_000",
        "0b101",
        "1:30",
    ],
)
def test_yaml_1_1_scalars_stay_strings(text: str) -> None:
    assert load_text(f"v: {text}\n").data == {"v": text}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("False", False),
        ("null", None),
        ("~", None),
        ("", None),
        ("42", 42),
        ("-7", -7),
        ("0o17", 15),
        ("0x1f", 31),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ('"42"', "42"),
        ("'true'", "true"),
        ("!!str 42", "42"),
    ],
)
def test_core_schema_scalars(text: str, value: object) -> None:
    loaded = load_text(f"v: {text}\n").data["v"]
    assert loaded == value
    assert type(loaded) is type(value)


def test_keys_are_always_strings() -> None:
    assert load_text("1: a\non: b\nnull: c\n").data == {"1": "a", "on": "b", "null": "c"}


def test_numbers_keep_how_they_were_written() -> None:
    document = load_text("version: 1.10\ncount: 0x10\nname: x\n")
    assert document.data == {"version": 1.1, "count": 16, "name": "x"}
    assert document.texts == {("version",): "1.10", ("count",): "0x10"}


def test_duplicate_keys_are_refused_at_the_second() -> None:
    error = _error("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert error.diagnostic.path == ("b", "c")
    assert error.diagnostic.position == Position(4, 3)
    assert error.diagnostic.message == 'duplicate key "c" (first at line 3, column 3)'


def test_duplicate_keys_in_flow_mappings() -> None:
    error = _error("a: {x: 1, x: 2}\n")
    assert error.diagnostic.position == Position(1, 11)


@pytest.mark.parametrize("text", ["a: &x 1\nb: *x\n", "a: &x {k: 1}\nb:\n  <<: *x\n"])
def test_aliases_are_refused(text: str) -> None:
    error = _error(text)
    assert "aliases" in error.diagnostic.message
    assert error.diagnostic.position is not None and error.diagnostic.position.line >= 2


def test_an_anchor_alone_is_harmless() -> None:
    assert load_text("a: &x 1\n").data == {"a": 1}


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("a: !!python/object:os.system {}\n", "!!python/object:os.system"),
        ("a: !!python/name:os.system\n", "!!python/name:os.system"),
        ('a: !!int "12"\n', "!!int"),
        ("a: !!binary aGVsbG8=\n", "!!binary"),
        ("a: !custom {k: 1}\n", "!custom"),
    ],
)
def test_tags_that_would_be_ignored_are_refused(text: str, tag: str) -> None:
    error = _error(text)
    assert f'YAML tags such as "{tag}" are not supported' in error.diagnostic.message
    assert error.diagnostic.position == Position(1, 4)


def test_harmless_tags_are_accepted() -> None:
    document = load_text("a: !!str 12\nb: !!map {k: !!seq [x]}\nc: ! 12\n")
    assert document.data == {"a": "12", "b": {"k": ["x"]}, "c": "12"}


def test_json_positions() -> None:
    text = '{\n  "flowgen": 1,\n  "activities": {\n    "fetch": {"requires": ["a"]}\n  }\n}\n'
    document = load_text(text)
    assert document.data == {"flowgen": 1, "activities": {"fetch": {"requires": ["a"]}}}
    assert document.keys[("activities",)] == Position(3, 3)
    assert document.keys[("activities", "fetch")] == Position(4, 5)
    assert document.values[("activities", "fetch", "requires", 0)] == Position(4, 28)
    assert document.values[("flowgen",)] == Position(2, 14)


def test_json_on_one_line() -> None:
    document = load_text('{"a": {"b": [1, 2]}, "c": "x"}')
    assert document.values[("a", "b", 1)] == Position(1, 17)
    assert document.keys[("c",)] == Position(1, 22)


def test_json_duplicate_keys() -> None:
    error = _error('{"a": 1, "a": 2}')
    assert error.diagnostic.position == Position(1, 10)


@pytest.mark.parametrize(
    ("text", "found"),
    [("- a\n- b\n", "a list"), ("just text\n", "a string"), ("42\n", "an integer"), ("null\n", "null")],
)
def test_the_top_must_be_a_mapping(text: str, found: str) -> None:
    error = _error(text)
    assert f"found {found} at the top" in error.diagnostic.message


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "\ufeff"])
def test_empty_documents(text: str) -> None:
    error = _error(text)
    assert error.diagnostic.position == Position(1, 1)
    assert "the file is empty" in error.diagnostic.message


@pytest.mark.parametrize("text", ["---\n", "--- # nothing\n...\n", "...\n"])
def test_documents_with_nothing_in_them(text: str) -> None:
    assert _error(text).diagnostic.message


def test_a_second_document_is_refused_where_it_starts() -> None:
    error = _error("a: 1\n---\nb: 2\n")
    assert error.diagnostic.position == Position(2, 1)


def test_syntax_errors_are_located() -> None:
    error = _error("a:\n  b: [1, 2\nc: 3\n")
    assert error.diagnostic.message.startswith("invalid YAML: ")
    assert "opened at line 2, column 6" in error.diagnostic.message


def test_tabs_are_explained() -> None:
    error = _error("a:\n\tb: 1\n")
    assert error.diagnostic.position == Position(2, 1)
    assert "tab" in error.diagnostic.message


@pytest.mark.parametrize(("text", "line", "column"), [("a: b\x00\n", 1, 5), ("é: 1\nb: x\x07y\n", 2, 5)])
def test_control_characters_are_located(text: str, line: int, column: int) -> None:
    error = _error(text)
    assert error.diagnostic.position == Position(line, column)
    assert "U+00" in error.diagnostic.message


def test_non_utf8_bytes_are_located() -> None:
    with pytest.raises(LoadError) as caught:
        load_bytes(b"a: 1\nb: caf\xe9\n")
    assert caught.value.diagnostic.position == Position(2, 7)
    assert "0xe9" in caught.value.diagnostic.message


def test_a_utf8_bom_is_ignored() -> None:
    document = load_bytes("\ufeffa: 1\n".encode())
    assert document.data == {"a": 1}
    assert document.keys[("a",)] == Position(1, 1)


def test_unicode_values_and_columns_count_characters() -> None:
    document = load_text("é€: 'ünï'\nb: x\n")
    assert document.data == {"é€": "ünï", "b": "x"}
    assert document.values[("é€",)] == Position(1, 5)


def test_crlf_line_endings() -> None:
    document = load_text("a: 1\r\nb:\r\n  c: 2\r\n")
    assert document.data == {"a": 1, "b": {"c": 2}}
    assert document.keys[("b", "c")] == Position(3, 3)


def test_nesting_is_bounded_without_recursion() -> None:
    error = _error("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5))
    assert "nested more than" in error.diagnostic.message
    assert load_text("a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)).data["a"] is not None


@pytest.mark.parametrize(
    "text", ["a: .inf\n", "a: -.Inf\n", "a: .nan\n", "a: 1e999\n", "a: " + "9" * 200 + "\n"]
)
def test_numbers_must_be_finite_and_reasonable(text: str) -> None:
    error = _error(text)
    assert error.diagnostic.path == ("a",)
    assert error.diagnostic.position == Position(1, 4)


def test_complex_keys_are_refused() -> None:
    error = _error("? [a, b]\n: 1\n")
    assert "keys must be plain strings" in error.diagnostic.message


def test_oversized_input_is_refused_before_parsing() -> None:
    with pytest.raises(LoadError) as caught:
        load_bytes(b"a: 1\n" * 300_000)
    assert "at most" in caught.value.diagnostic.message


def test_non_utf8_bytes_after_a_bom_are_located() -> None:
    with pytest.raises(LoadError) as caught:
        load_bytes(b"\xef\xbb\xbfab: c\xe9\n")
    assert caught.value.diagnostic.position == Position(1, 6)
    assert "byte 0xe9" in caught.value.diagnostic.message


def test_a_lone_carriage_return_is_a_line_break_everywhere() -> None:
    assert _error("a: 1\rb: \x07\n").diagnostic.position == Position(2, 4)
    with pytest.raises(LoadError) as caught:
        load_bytes(b"a: 1\rb: \x80\n")
    assert caught.value.diagnostic.position == Position(2, 4)


def test_json_surrogate_pairs_are_read_as_one_character() -> None:
    # json.dumps writes characters beyond U+FFFF as escaped surrogate pairs, which YAML refuses.
    text = '{"a": "x\\ud83d\\ude42y", "b": [1, "\\ud83d\\ude43"], "c": "\\\\ud83d\\\\ude42"}'
    document = load_text(text)
    assert document.data == {"a": "x🙂y", "b": [1, "🙃"], "c": "\\ud83d\\ude42"}
    assert document.keys[("b",)] == Position(1, text.index('"b"') + 1)
    assert document.values[("b", 1)] == Position(1, text.index('"\\ud83d\\ude43"') + 1)
    assert document.keys[("c",)] == Position(1, text.index('"c"') + 1)


def test_errors_after_a_joined_surrogate_pair_keep_their_column() -> None:
    text = '{"a": "\\ud83d\\ude42", "b": [1, {"c" "d"}]}'
    same_length = text.replace("\\ud83d\\ude42", "x" * 12)
    assert _error(text).diagnostic.position == _error(same_length).diagnostic.position


def test_a_lone_surrogate_escape_is_refused() -> None:
    assert "escape" in _error('{"a": "\\ud83d"}').diagnostic.message


@pytest.mark.parametrize("separator", [" ", "\n"], ids=["one-line", "many-lines"])
def test_surrogate_pairs_are_joined_in_linear_work(separator: str) -> None:
    # 20,000 pairs took 35 s when each join rescanned the text from its start, and each position
    # was shifted by counting the joins before it on its line. Work is counted, not timed (see
    # tests/work_meter.py): eight times the pairs must cost at most ten times the characters scanned
    # and the Python steps run; a rescan per pair costs about sixty times.
    characters, steps = [], []
    for pairs in (500, 4_000):
        text = '{"a": [' + f",{separator}".join(['"\\ud83d\\ude42"'] * pairs) + '], "b": 1}'
        meter = WorkMeter()
        document = meter.run(flowgen.load, load_text, text)
        # libyaml takes an exact str only: the join alone is given text that meters its operations.
        meter.run(flowgen.load, flowgen.load._join_surrogates, meter.text(text))
        assert document.data == {"a": ["🙂"] * pairs, "b": 1}
        # Positions after thousands of joins still point into the original text.
        assert document.keys[("b",)] == _position_of(text, text.index('"b"'))
        assert document.values[("a", pairs - 1)] == _position_of(text, text.rindex('"\\ud83d'))
        characters.append(meter.characters)
        steps.append(meter.steps)
    assert characters[1] <= 10 * characters[0], characters
    assert steps[1] <= 10 * steps[0], steps


def _position_of(text: str, index: int) -> Position:
    before = text[:index]
    return Position(before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


class _LibyamlWithItsOwnLimit(yaml.SafeLoader):
    """A parser that, like libyaml since 0.2.5, reads ahead and gives up at a nesting depth of its own,
    in its own words, before handing out the first event."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.ahead: list[yaml.Event] = []
        depth = 0
        while super().check_event():
            event = super().get_event()
            depth += isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent))
            if depth > MAX_DEPTH + 20:
                raise yaml.parser.ParserError(None, None, "words flowgen has never seen", event.start_mark)
            self.ahead.append(event)

    def check_event(self, *choices: type[yaml.Event]) -> bool:
        return bool(self.ahead)

    def get_event(self) -> yaml.Event:
        return self.ahead.pop(0)


@pytest.mark.parametrize("text", ["[" * 500 + "]" * 500, "- " * 500 + "x\n"], ids=["flow", "block"])
def test_the_nesting_limit_is_flowgens_whatever_the_parser_does(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setattr(flowgen.load, "_Loader", _LibyamlWithItsOwnLimit)
    error = _error(text)
    assert error.diagnostic.message == f"nested more than {MAX_DEPTH} levels deep"
    assert error.diagnostic.position == Position(1, (MAX_DEPTH * (1 if text[0] == "[" else 2)) + 1)


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML was built without libyaml")
@pytest.mark.parametrize(
    "text",
    [
        # Over 1 MiB as JSON and as YAML, thousands of brackets and colons, never 3 levels deep.
        '{"a": [' + ", ".join(['{"b": [1, -2]}'] * 50_000) + "], }}\n",
        "a:\n" + "".join(f"  - {{b{i}: [1, -2], c: x}}\n" for i in range(30_000)) + "  - [1, 2]]\n",
    ],
    ids=["json-one-line", "yaml-many-lines"],
)
def test_a_syntax_error_in_a_large_shallow_file_is_not_parsed_twice(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    # PyYAML's pure-Python parser took 8 s on 1 MiB; it is run only when flowgen's nesting limit
    # could be what the user must see.
    monkeypatch.setattr(flowgen.load, "_Loader", yaml.CSafeLoader)
    pure_parsers: list[object] = []
    original = yaml.SafeLoader.__init__

    def spy(self: yaml.SafeLoader, stream: str) -> None:
        pure_parsers.append(self)
        original(self, stream)

    monkeypatch.setattr(yaml.SafeLoader, "__init__", spy)
    error = _error(text)
    assert error.diagnostic.message.startswith("invalid YAML: ")
    assert error.diagnostic.position is not None and error.diagnostic.position.line == text.count("\n")
    assert pure_parsers == []
    # Nested beyond libyaml's own limit before the error: walked again, and flowgen's limit is seen.
    assert _error("[" * 2_000 + text).diagnostic.message == f"nested more than {MAX_DEPTH} levels deep"
    assert pure_parsers != []


def test_syntax_errors_are_in_flowgens_words_whatever_the_parser_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Mumbling(yaml.SafeLoader):
        def check_event(self, *choices: type[yaml.Event]) -> bool:
            try:
                return bool(super().check_event(*choices))
            except yaml.MarkedYAMLError as error:
                error.problem, error.context = "mumble", "mumble" if error.context else None
                raise

    monkeypatch.setattr(flowgen.load, "_Loader", Mumbling)
    assert "opened at line 2, column 6" in _error("a:\n  b: [1, 2\nc: 3\n").diagnostic.message
    assert "indents with spaces" in _error("a:\n\tb: 1\n").diagnostic.message
    assert 'contains ": "' in _error("a: b: c\n").diagnostic.message
    assert "mumble" not in _error("a:\n  - b\n - c\n").diagnostic.message
