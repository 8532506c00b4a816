"""The labeled request corpus is data other tests rely on: every record must be complete, sourced and labeled
with a category of the taxonomy (this checks the data only, not gatewatch's classification of it)."""

import re
from collections import Counter

from gatewatch.classify.taxonomy import ErrorCategory
from tests.helpers import CORPUS, corpus_labeled

KEYS = {"id", "src", "api", "kind", "shape", "raw", "expected", "why", "url", "retrieved", "notes"}
APIS = {"REST", "HTTP", "WEBSOCKET", "unknown"}
KINDS = {"access", "execution", "both"}
MINIMUM = 50


def _coverage() -> str:
    """Records per expected category and per shape, for assertion messages."""
    records = corpus_labeled()
    categories = Counter(r.get("expected", {}).get("category") for r in records)
    shapes = Counter(r.get("shape") for r in records)
    return f"{len(records)} records; categories {dict(categories.most_common())}; shapes {dict(shapes.most_common())}"


def test_every_record_has_exactly_the_documented_keys_and_values_of_the_right_kind():
    # GIVEN the labeled corpus
    records = corpus_labeled()
    # WHEN each record's keys and field values are checked
    bad = []
    for r in records:
        expected = r.get("expected")
        if set(r) != KEYS:
            bad.append((r.get("id"), "keys", sorted(set(r) ^ KEYS)))
        elif r["api"] not in APIS or r["kind"] not in KINDS:
            bad.append((r["id"], "api/kind", r["api"], r["kind"]))
        elif not isinstance(expected, dict) or set(expected) != {"category", "status"}:
            bad.append((r["id"], "expected", expected))
        elif expected["status"] is not None and not (
            isinstance(expected["status"], int) and 100 <= expected["status"] <= 599
        ):
            bad.append((r["id"], "status", expected["status"]))
        elif not all(isinstance(r[k], str) and r[k].strip() for k in ("shape", "raw", "why", "url", "retrieved")):
            bad.append((r["id"], "empty text field"))
        elif not isinstance(r["notes"], str):
            bad.append((r["id"], "notes"))
    # THEN none is incomplete or malformed
    assert not bad, f"{bad} — {_coverage()}"


def test_ids_are_unique_and_sequential_from_r001():
    # GIVEN the labeled corpus in file order
    ids = [r["id"] for r in corpus_labeled()]
    # WHEN compared with R001, R002, ...
    wanted = [f"R{i:03d}" for i in range(1, len(ids) + 1)]
    # THEN they are exactly that sequence (so no duplicates and no gaps)
    assert ids == wanted, (
        f"ids out of sequence: {[(a, b) for a, b in zip(ids, wanted, strict=True) if a != b][:5]} — {_coverage()}"
    )


def test_every_source_has_a_section_in_sources_md():
    # GIVEN the source ids used by the records and the provenance file
    text = (CORPUS / "SOURCES.md").read_text()
    sections = set(re.findall(r"^### (S\d+)\s*$", text, flags=re.MULTILINE))
    used = {r["src"] for r in corpus_labeled()}
    # WHEN every used source id is looked up among the `### Sxx` sections
    missing = sorted(used - sections)
    # THEN each one is documented
    assert not missing, f"sources without a ### section in SOURCES.md: {missing} — {_coverage()}"


def test_every_expected_category_is_in_the_taxonomy():
    # GIVEN the taxonomy's categories
    known = {c.value for c in ErrorCategory}
    # WHEN each record's expected category is checked against them
    unknown = [(r["id"], r["expected"]["category"]) for r in corpus_labeled() if r["expected"]["category"] not in known]
    # THEN none is outside the taxonomy
    assert not unknown, f"categories not in ErrorCategory: {unknown} — {_coverage()}"


def test_the_corpus_holds_at_least_fifty_requests():
    # GIVEN the labeled corpus  WHEN counted
    count = len(corpus_labeled())
    # THEN it holds at least the agreed minimum, with its coverage shown if not
    assert count >= MINIMUM, f"only {count} labeled requests (want >= {MINIMUM}) — {_coverage()}"
