"""The README's category table and troubleshooting guide are generated from the code and must not drift."""

from gatewatch.classify.taxonomy import CATEGORY_TABLE, ErrorCategory
from gatewatch_cli.docs import render_sections, troubleshooting_markdown
from tests.helpers import ROOT


def test_readme_generated_sections_match_the_category_table():
    # GIVEN the committed README  WHEN its generated blocks are rendered again from the code
    readme = (ROOT / "README.md").read_text()
    # THEN nothing changes (run `gatewatch docs --write README.md` after editing taxonomy.py)
    assert render_sections(readme) == readme


def test_troubleshooting_guide_covers_every_category_with_its_fix():
    guide = troubleshooting_markdown()
    for cat, info in CATEGORY_TABLE.items():
        if cat is ErrorCategory.OK:
            continue
        assert f"`{cat.value}`" in guide and info.fix in guide


def test_a_changed_fix_text_would_be_detected():
    # GIVEN a README whose generated troubleshooting block was edited by hand
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- BEGIN GENERATED: troubleshooting -->")
    block_end = readme.index("<!-- END GENERATED: troubleshooting -->")
    block = readme[start:block_end]
    tampered = (
        readme[:start]
        + block.replace("Return statusCode as a number", "Return statusCode as a string")
        + readme[block_end:]
    )
    # THEN the drift is visible, and regenerating restores the table's text
    assert tampered != readme and render_sections(tampered) == readme
