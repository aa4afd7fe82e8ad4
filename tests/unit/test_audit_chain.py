"""The audit trail's hash chain on made-up records: every kind of tampering is found, and where."""

from __future__ import annotations

from clearwatch.governance.audit import GENESIS, Row, canonical, chain_hash, check_chain


def chain(n: int) -> list[Row]:
    rows: list[Row] = []
    prev = GENESIS
    for i in range(1, n + 1):
        body = (i, f"2026-12-01T10:00:{i:02d}Z", "vera", "operator", "footage.export", "gate", "{}", "case 7", "::1")
        h = chain_hash(prev, canonical(*body))
        rows.append((*body, prev, h))
        prev = h
    return rows


def head_of(rows: list[Row]):
    return lambda: (rows[-1][0], rows[-1][-1]) if rows else (0, GENESIS)


def test_an_untouched_chain_verifies() -> None:
    rows = chain(5)
    v = check_chain(rows, head_of(rows))
    assert v.ok and v.records == 5 and v.problems == []


def test_an_edit_is_found_at_its_record() -> None:
    rows = chain(5)
    head = head_of(rows)
    edited = list(rows)
    edited[2] = (*rows[2][:7], "no reason", *rows[2][8:])  # justification changed, hashes left alone
    v = check_chain(edited, head)
    assert not v.ok and v.problems == ["record 3: content does not match its hash (edited)"]


def test_a_deleted_record_is_found() -> None:
    rows = chain(5)
    v = check_chain(rows[:2] + rows[3:], head_of(rows))
    assert not v.ok and any(p.startswith("record 4: expected record 3 next (records deleted)") for p in v.problems)


def test_swapped_records_are_found() -> None:
    rows = chain(5)
    swapped = [rows[0], rows[2], rows[1], rows[3], rows[4]]
    v = check_chain(swapped, head_of(rows))
    assert not v.ok and v.problems[0].startswith("record 3:")


def test_truncation_is_found_from_the_head() -> None:
    rows = chain(5)
    v = check_chain(rows[:3], head_of(rows))
    assert not v.ok and v.problems == ["the chain ends at record 3 but its head says 5: records were cut off the end "
                                       "(truncated)"]


def test_the_chain_binds_every_field() -> None:
    base = (1, "t", "a", "r", "x", "y", "{}", None, None)
    h = chain_hash(GENESIS, canonical(*base))
    for i in range(1, len(base)):
        changed = list(base)
        changed[i] = "other"
        assert chain_hash(GENESIS, canonical(*changed)) != h  # type: ignore[arg-type]


def test_canonical_bytes_are_those_of_json_dumps() -> None:
    """The chain's hashes were made over json.dumps's bytes; the faster encoder must write exactly those."""
    import json
    import random

    rnd = random.Random(7)
    chars = [chr(i) for i in range(0x300)] + ["\u2028", "\u2029", "\ufeff", "😀", "\U0010ffff", '"', "\\", "/"]
    for _ in range(5000):
        s = "".join(rnd.choice(chars) for _ in range(rnd.randint(0, 10)))
        args = (rnd.randint(1, 2**62), s, "actor", "role", "action", s[::-1], "{}", s or None, None)
        assert canonical(*args) == json.dumps(list(args), separators=(",", ":"), ensure_ascii=False).encode()
    # a lone surrogate (a broken client) still hashes, through json
    assert canonical(1, "\ud800", "a", "r", "x", "", "{}", None, None).startswith(b'[1,"')
