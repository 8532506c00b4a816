"""The category table is the product's core: every category must say whether to retry, who is to blame and how to fix it."""

import re
from pathlib import Path

import pytest

from gatewatch.classify.taxonomy import (
    BROKEN_DEPLOY_CATEGORIES,
    CATEGORY_TABLE,
    ErrorCategory,
    Family,
    Retry,
    category_info,
    fallback_category,
)

_ROOT = Path(__file__).resolve().parents[2]
# The design beside the repository when present, else the project's own copy (docs/design.md).
DESIGN = next(p for p in (_ROOT.parent / "shared" / "DESIGN.md", _ROOT / "docs" / "design.md") if p.exists())
# The categories and their retry/blame exactly as DESIGN §4 lists them (the public contract).
DESIGN_TABLE = {
    "BAD_REQUEST_BODY": ("no", "client"),
    "BAD_REQUEST_PARAMETERS": ("no", "client"),
    "BAD_REQUEST": ("no", "client"),
    "UNAUTHORIZED": ("no", "client"),
    "ACCESS_DENIED": ("no", "client"),
    "INVALID_API_KEY": ("no", "client"),
    "WAF_BLOCKED": ("no", "edge"),
    "MISSING_AUTH_TOKEN": ("no", "client"),
    "NOT_FOUND": ("no", "client"),
    "CONFLICT": ("no", "client"),
    "PAYLOAD_TOO_LARGE": ("no", "client"),
    "UNSUPPORTED_MEDIA_TYPE": ("no", "client"),
    "QUOTA_EXCEEDED": ("later", "capacity"),
    "THROTTLED": ("backoff", "capacity"),
    "CLIENT_ERROR_OTHER": ("no", "client"),
    "BACKEND_THROTTLED": ("backoff", "capacity"),
    "INTEGRATION_PERMISSION": ("no", "config"),
    "AUTHORIZER_ERROR": ("no", "config"),
    "CONFIGURATION_ERROR": ("no", "config"),
    "MALFORMED_RESPONSE": ("no", "backend"),
    "LAMBDA_TIMEOUT": ("yes", "backend"),
    "LAMBDA_ERROR": ("no", "backend"),
    "BAD_GATEWAY": ("yes", "backend"),
    "SERVICE_UNAVAILABLE": ("yes", "backend"),
    "INTEGRATION_TIMEOUT": ("yes", "backend"),
    "NETWORK_ERROR": ("yes", "backend"),
    "TLS_ERROR": ("no", "config"),
    "INTERNAL_ERROR": ("no", "backend"),
    "SERVER_ERROR_OTHER": ("no", "backend"),
}


@pytest.mark.parametrize("name,expected", sorted(DESIGN_TABLE.items()))
def test_every_design_category_has_retry_blame_and_fix(name, expected):
    # GIVEN a category from DESIGN §4  WHEN looked up in the one table in code
    info = category_info(name)
    # THEN retry and blame are the contract's, and a person gets a meaning and a fix
    assert (info.retry.value, info.blame.value) == expected
    assert len(info.fix) > 40 and len(info.meaning) > 20 and info.title


def test_table_and_enum_hold_exactly_the_design_categories_plus_ok():
    assert set(CATEGORY_TABLE) == set(ErrorCategory)
    assert {c.value for c in ErrorCategory} == set(DESIGN_TABLE) | {"OK"}


def test_design_md_lists_the_same_categories():
    names = set(re.findall(r"^\| ([A-Z][A-Z_0-9]+) \|", DESIGN.read_text(), re.M))
    assert names == set(DESIGN_TABLE)


@pytest.mark.parametrize(
    "status,expected",
    [
        (400, "BAD_REQUEST"),
        (401, "UNAUTHORIZED"),
        (403, "ACCESS_DENIED"),
        (404, "NOT_FOUND"),
        (409, "CONFLICT"),
        (413, "PAYLOAD_TOO_LARGE"),
        (415, "UNSUPPORTED_MEDIA_TYPE"),
        (429, "THROTTLED"),
        (500, "INTERNAL_ERROR"),
        (502, "BAD_GATEWAY"),
        (503, "SERVICE_UNAVAILABLE"),
        (504, "INTEGRATION_TIMEOUT"),
        (418, "CLIENT_ERROR_OTHER"),
        (599, "SERVER_ERROR_OTHER"),
        (200, "OK"),
        (304, "OK"),
    ],
)
def test_status_only_fallback_is_the_design_table(status, expected):
    assert fallback_category(status).value == expected


def test_broken_deploy_categories_are_config_or_backend_and_never_retried():
    assert {c.value for c in BROKEN_DEPLOY_CATEGORIES} == {
        "INTEGRATION_PERMISSION",
        "CONFIGURATION_ERROR",
        "AUTHORIZER_ERROR",
        "MALFORMED_RESPONSE",
    }
    for c in BROKEN_DEPLOY_CATEGORIES:
        assert CATEGORY_TABLE[c].retry is Retry.NO


def test_families_group_blame_for_routing():
    assert CATEGORY_TABLE[ErrorCategory.WAF_BLOCKED].family is Family.CLIENT
    assert CATEGORY_TABLE[ErrorCategory.THROTTLED].family is Family.CAPACITY
    assert CATEGORY_TABLE[ErrorCategory.TLS_ERROR].family is Family.CONFIG
    assert CATEGORY_TABLE[ErrorCategory.MALFORMED_RESPONSE].family is Family.BACKEND
    assert CATEGORY_TABLE[ErrorCategory.OK].family is Family.OK
