"""The docs: generated blocks that cannot drift from the code, a README that stays a front page, links that resolve."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from gatewatch.classify.taxonomy import CATEGORY_TABLE, ErrorCategory
from gatewatch_cli.docs import (
    SECTIONS,
    generated_blocks,
    main,
    pages_with_generated_blocks,
    render_sections,
    troubleshooting_markdown,
    write_generated,
)
from tests.helpers import ROOT

DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.glob("*.md"))
# Where each generated block lives (a page holds at most the blocks listed for it).
HOMES = {
    "categories": DOCS / "categories.md",
    "troubleshooting": DOCS / "troubleshooting.md",
    "bounds": DOCS / "limits.md",
}
REGENERATE = "run `.venv/bin/gatewatch docs --write` after editing taxonomy.py or a bound"


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# --- generated blocks -------------------------------------------------------------------------


@pytest.mark.parametrize("page", [README, *PAGES], ids=_rel)
def test_every_committed_generated_block_equals_what_the_code_generates(page):
    # GIVEN a committed page  WHEN its generated blocks are rendered again from the code
    text = page.read_text(encoding="utf-8")
    # THEN nothing changes
    assert render_sections(text) == text, f"{_rel(page)} is stale: {REGENERATE}"


def test_each_generated_block_is_committed_once_on_its_own_page():
    # GIVEN every page of the repository's docs (and the README)
    found = {p: set(generated_blocks(p.read_text(encoding="utf-8"))) for p in [README, *PAGES]}
    # THEN each generator's block is on its page, and on no other
    for name, home in HOMES.items():
        assert [p for p, names in found.items() if name in names] == [home], name
    assert set(HOMES) == set(SECTIONS)
    # AND the pages `--write` finds are exactly those pages
    assert pages_with_generated_blocks(DOCS) == sorted(HOMES.values())


def test_troubleshooting_guide_covers_every_category_with_its_fix():
    guide = troubleshooting_markdown()
    for cat, info in CATEGORY_TABLE.items():
        if cat is ErrorCategory.OK:
            continue
        assert f"`{cat.value}`" in guide and info.fix in guide


@pytest.mark.parametrize(
    "name,original,edit",
    [
        ("troubleshooting", "Return statusCode as a number", "Return statusCode as a string"),
        ("categories", "| `THROTTLED` | 429 | backoff |", "| `THROTTLED` | 429 | no |"),
        ("bounds", "| 50,000 (5 ×", "| 500,000 (5 ×"),
    ],
)
def test_a_hand_edited_block_is_detected_and_regenerating_restores_it(name, original, edit):
    # GIVEN a page whose generated block was edited by hand
    committed = HOMES[name].read_text(encoding="utf-8")
    assert original in generated_blocks(committed)[name]
    tampered = committed.replace(original, edit)
    # WHEN it is checked against the code
    # THEN the drift is visible, and regenerating restores the table's text
    assert tampered != committed and render_sections(tampered) == committed


def test_write_rewrites_every_stale_page_of_a_folder_and_leaves_the_others(tmp_path, capsys):
    # GIVEN a copy of docs/ whose troubleshooting guide was edited by hand
    docs = tmp_path / "docs"
    shutil.copytree(DOCS, docs)
    guide = docs / "troubleshooting.md"
    guide.write_text(guide.read_text(encoding="utf-8").replace("Usually a just-deployed bug.", "Shrug."))
    # WHEN `--write` is given the folder
    assert main(["--write", str(docs)]) == 0
    # THEN the stale page is rewritten to the committed text, the fresh one is left alone
    assert guide.read_text(encoding="utf-8") == (DOCS / "troubleshooting.md").read_text(encoding="utf-8")
    assert capsys.readouterr().out.splitlines() == [
        f"{docs / 'categories.md'}: already up to date",
        f"{docs / 'limits.md'}: already up to date",
        f"{docs / 'troubleshooting.md'}: updated",
    ]
    # AND a second run changes nothing
    assert [changed for _, changed in write_generated(docs)] == [False, False, False]


def test_write_takes_a_single_page_too(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- BEGIN GENERATED: categories -->\nold\n<!-- END GENERATED: categories -->\nend\n")
    assert write_generated(page) == [(page, True)]
    assert (
        generated_blocks(page.read_text())["categories"]
        == generated_blocks((DOCS / "categories.md").read_text(encoding="utf-8"))["categories"]
    )


def test_a_block_with_an_unknown_name_is_an_error_not_silently_skipped(tmp_path, capsys):
    # GIVEN a page whose marker has a typo
    page = tmp_path / "page.md"
    page.write_text("<!-- BEGIN GENERATED: categorys -->\nx\n<!-- END GENERATED: categorys -->\n")
    # THEN rendering refuses it, and the command says why and fails
    with pytest.raises(ValueError, match="categorys"):
        render_sections(page.read_text())
    assert main(["--write", str(page)]) == 2
    assert "categorys" in capsys.readouterr().err


def test_without_write_a_block_is_printed(capsys):
    assert main(["categories"]) == 0
    assert capsys.readouterr().out == SECTIONS["categories"]() + "\n"


# --- the README is a front page, the docs are the reference --------------------------------------


def test_readme_opens_with_the_two_commands_and_stays_a_front_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert lines[:5] == [
        "# gatewatch",
        "",
        "```bash",
        "make demo    # sets everything up, then runs the whole pipeline locally: an hour of an API's logs,"
        " local AWS, alarms, Slack",
        "make test    # sets everything up, then runs the whole test suite (unit, functional, infra)",
    ]
    assert len(lines) <= 400, "the reference belongs in docs/"


def test_readme_links_every_docs_page():
    linked = {t.split("#")[0] for t in _links(README)}
    assert {f"docs/{p.name}" for p in PAGES} <= linked


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_docs_page_starts_with_a_title_and_a_sentence_saying_what_it_covers(page):
    lines = page.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ") and lines[1] == ""
    first_paragraph = " ".join(lines[2 : lines.index("", 2)])
    assert first_paragraph.endswith(".") and not first_paragraph.startswith(("#", "|", "`", "<!--", "-"))


def test_the_projects_design_copy_lists_the_categories_the_code_has():
    design = (DOCS / "design.md").read_text(encoding="utf-8")
    names = set(re.findall(r"^\| ([A-Z][A-Z_0-9]+) \|", design, re.M))
    assert names == {c.value for c in ErrorCategory} - {"OK"}


def test_docs_speak_of_the_project_not_of_its_issue_tracker():
    for page in [README, *PAGES, ROOT / "bench" / "README.md"]:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"\bissues? #?\d", text, re.I), _rel(page)


# --- links --------------------------------------------------------------------------------------

_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE = re.compile(r"`[^`\n]*`")


def _prose(text: str) -> str:
    """The text outside code blocks and inline code, where a link is a link."""
    return _CODE.sub("", _FENCE.sub("", text))


def _links(page: Path) -> list[str]:
    return [t for t in _LINK.findall(_prose(page.read_text(encoding="utf-8"))) if not re.match(r"[a-z]+:", t)]


def github_anchor(heading: str, seen: dict[str, int]) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-', duplicates numbered."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
    n = seen.get(slug, 0)
    seen[slug] = n + 1
    return slug if n == 0 else f"{slug}-{n}"


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    text = _FENCE.sub("", page.read_text(encoding="utf-8"))
    return {github_anchor(h, seen) for h in re.findall(r"^#{1,6} (.+?)\s*#*$", text, re.M)}


def test_github_anchor_matches_githubs_rules():
    seen: dict[str, int] = {}
    assert (
        github_anchor("`BAD_REQUEST_BODY` — Request body rejected", seen) == "bad_request_body--request-body-rejected"
    )
    assert (
        github_anchor("2. Layout (within the requested top level)", seen) == "2-layout-within-the-requested-top-level"
    )
    assert github_anchor("Deploy with `cdk deploy`", seen) == "deploy-with-cdk-deploy"
    assert [github_anchor("Notes", seen), github_anchor("Notes", seen)] == ["notes", "notes-1"]


def broken_links(page: Path) -> list[str]:
    """The relative links of a page (outside code) whose file or heading does not exist."""
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            broken.append(f"{target}: no such heading in {dest.name}")
    return broken


@pytest.mark.parametrize("page", [README, *PAGES, ROOT / "bench" / "README.md"], ids=_rel)
def test_every_relative_link_points_to_an_existing_file_and_anchor(page):
    # GIVEN every relative link of a page  THEN its file exists, and so does the heading it names
    assert not broken_links(page), f"{_rel(page)}: {broken_links(page)}"


def test_a_broken_link_or_anchor_is_detected(tmp_path):
    # GIVEN a page linking a missing file, a missing heading, and (inside code) something that is no link
    (tmp_path / "other.md").write_text("# Other\n\n## Real heading\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[ok](other.md#real-heading) [self](#page) [gone](missing.md) [typo](other.md#real-headin)\n"
        "`[code](nowhere.md)`\n\n```\n[fenced](nowhere.md)\n```\n[web](https://example.com/x)\n"
    )
    # THEN exactly the two broken ones are reported
    assert broken_links(page) == ["missing.md: no such file", "other.md#real-headin: no such heading in other.md"]
