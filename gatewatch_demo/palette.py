"""The colours the demo's two pictures share, in one place so the dashboard PNG and the HTML report agree."""

from __future__ import annotations

from gatewatch.classify.taxonomy import CATEGORY_TABLE, ErrorCategory, Family

#: A family's colour: config = red, backend = orange, capacity = purple, client = blue.
FAMILY_COLOURS: dict[str, str] = {
    Family.CONFIG.value: "#c62828",
    Family.BACKEND.value: "#ef6c00",
    Family.CAPACITY.value: "#6a1b9a",
    Family.CLIENT.value: "#1565c0",
    Family.OK.value: "#2e7d32",
}
#: An alarm state's colour (CloudWatch's own green, red and grey).
STATE_COLOURS: dict[str, str] = {"OK": "#1d8102", "ALARM": "#d13212", "INSUFFICIENT_DATA": "#aab7b8"}
#: What a category outside the taxonomy, or a state without a colour, is drawn in.
GREY = "#7f8c8d"
UNKNOWN_FAMILY = "other"


def family_of(category: str) -> str:
    """The taxonomy family of a category name ("other" for a name the taxonomy does not know)."""
    try:
        return CATEGORY_TABLE[ErrorCategory(category)].family.value
    except ValueError:
        return UNKNOWN_FAMILY


__all__ = ["FAMILY_COLOURS", "GREY", "STATE_COLOURS", "UNKNOWN_FAMILY", "family_of"]
