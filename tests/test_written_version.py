"""``records.parse_written_version``, the one-pattern reader listings use for version files laid out
exactly as the writer writes them: whenever it returns a record, it is the record the general
reader (tomllib and ``parse_version``) returns; it takes what the writer writes for a plain live
version of one file; and a damaged text either goes to the general reader or reads the same."""

from __future__ import annotations

import datetime as dt
import tomllib
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mreg.entities import Artifact, ArtifactFile, Lineage
from mreg.errors import MregError
from mreg.store.files import dumps_toml
from mreg.store.records import VersionRecord, parse_version, parse_written_version

DIGEST = "ab" * 32
TEXT = st.text(
    st.characters(blacklist_categories=["Cs"]) | st.sampled_from('"\\\t\n\x00\x1b\x7f\u2028é'), max_size=12
)
PLAIN = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters='"\\'), max_size=12
)
TIMES = st.datetimes(
    min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
)


def records(text: st.SearchStrategy[str]) -> st.SearchStrategy[VersionRecord]:
    optional = st.none() | text
    lineage = st.builds(Lineage, optional, optional, st.none() | st.booleans(), optional)
    path = st.sampled_from(["model.bin", "a/b.onnx", "é.pt", "sp ace.bin"]) | text
    artifact = st.builds(
        lambda rel, size: Artifact("file", DIGEST, size, (ArtifactFile(rel, DIGEST, size),)),
        path,
        st.integers(0, 2**40),
    )
    return st.builds(
        VersionRecord,
        created_at=TIMES,
        created_by=text.filter(bool),
        updated_at=TIMES,
        source=text,
        artifact=artifact,
        run_id=text,
        run_link=text,
        stage=st.sampled_from(["None", "Staging", "Production", "Archived"]),
        description=text,
        lineage=lineage,
        tags=st.dictionaries(text.filter(bool), text, max_size=3),
    )


def general(text: str) -> Any:
    """What the general reader makes of ``text``: a record, or the exception it raises."""
    try:
        return parse_version("v.toml", tomllib.loads(text))
    except (tomllib.TOMLDecodeError, MregError) as err:
        return type(err)


@settings(max_examples=120, deadline=None)
@given(records(TEXT))
def test_a_record_read_by_the_pattern_is_the_general_readers(record: VersionRecord) -> None:
    text = dumps_toml(record.to_toml())
    fast = parse_written_version(text)
    assert fast is None or fast == general(text)


@settings(max_examples=80, deadline=None)
@given(records(PLAIN))
def test_the_pattern_reads_what_the_writer_writes(record: VersionRecord) -> None:
    text = dumps_toml(record.to_toml())
    if general(text) != record:  # a path the general reader refuses (empty, "..", …)
        assert parse_written_version(text) is None
        return
    assert parse_written_version(text) == record


@settings(max_examples=200, deadline=None)
@given(
    records(PLAIN), st.integers(0, 10_000), st.integers(0, 3), st.sampled_from(list('"\\=\n [].#x0-+ZT:é\t'))
)
@example(
    VersionRecord(
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "u",
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "s",
        Artifact("file", DIGEST, 1, (ArtifactFile("m", DIGEST, 1),)),
        tags={"a": "1", "b": "2"},
    ),
    10_000,
    0,
    "x",
)
def test_a_damaged_text_goes_to_the_general_reader_or_reads_the_same(
    record: VersionRecord, at: int, how: int, char: str
) -> None:
    text = dumps_toml(record.to_toml())
    at %= len(text) + 1
    if how == 0:
        damaged = text[:at] + char + text[at:]
    elif how == 1:
        damaged = text[:at] + text[at + 1 :]
    elif how == 2:
        damaged = text[:at] + char + text[at + 1 :]
    else:  # a tag key twice
        damaged = text + 'a = "again"\n' if "[tags]" in text else text + '\n[tags]\na = "1"\na = "2"\n'
    fast = parse_written_version(damaged)
    assert fast is None or fast == general(damaged)


def test_a_key_twice_in_the_tags_goes_to_the_general_reader() -> None:
    record = VersionRecord(
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "u",
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "s",
        Artifact("file", DIGEST, 1, (ArtifactFile("m", DIGEST, 1),)),
        tags={"a": "1"},
    )
    text = dumps_toml(record.to_toml())
    assert parse_written_version(text) == record
    assert parse_written_version(text + '"a" = "2"\n') is None
