"""The latency rules, once: the basis, the latency class against the integration timeout, near-timeouts,
and the gateway overhead. The classifier, the success tallies and the metrics all call these.

- Basis: the integration latency when logged (what the timeout applies to), else the response latency.
- Class: TIMEOUT at or above the API's integration timeout, NEAR_TIMEOUT at or above its
  near-timeout threshold (90 % of the timeout by default), SLOW above the slow threshold, else OK.
- Gateway overhead: response − integration (− authorizer when logged), never below 0, and only from
  two latencies that are valid milliseconds (finite, not negative: hostile lines carry "NaN").
"""

from __future__ import annotations

from gatewatch.constants import MAX_LATENCY_MS
from gatewatch.models import LatencyClass


def valid_ms(value: float | None) -> bool:
    """A latency worth a metric value: 0 to MAX_LATENCY_MS (False for NaN, infinities, 1e300)."""
    return value is not None and 0 <= value <= MAX_LATENCY_MS


def latency_basis(latency_ms: float | None, integration_latency_ms: float | None) -> float | None:
    """What is compared with the integration timeout: the integration latency, else the response latency."""
    return integration_latency_ms if integration_latency_ms is not None else latency_ms


def is_near_timeout(basis_ms: float | None, near_timeout_ms: float) -> bool:
    """At or above the near-timeout threshold (which includes a timeout)."""
    return basis_ms is not None and basis_ms >= near_timeout_ms


def latency_class(
    basis_ms: float | None, *, timeout_ms: float, near_timeout_ms: float, slow_ms: float
) -> LatencyClass | None:
    """The class of a basis latency (see the module docstring); None when no latency was logged."""
    if basis_ms is None:
        return None
    if basis_ms >= timeout_ms:
        return LatencyClass.TIMEOUT
    if is_near_timeout(basis_ms, near_timeout_ms):
        return LatencyClass.NEAR_TIMEOUT
    if basis_ms > slow_ms:
        return LatencyClass.SLOW
    return LatencyClass.OK


def gateway_overhead_ms(
    latency_ms: float | None, integration_latency_ms: float | None, authorizer_latency_ms: float | None
) -> float | None:
    """Response − integration (− authorizer) latency, at least 0; None unless both latencies are valid."""
    if not (valid_ms(latency_ms) and valid_ms(integration_latency_ms)):
        return None
    overhead = latency_ms - integration_latency_ms  # type: ignore[operator]  # both checked by valid_ms
    if authorizer_latency_ms is not None:
        overhead -= authorizer_latency_ms
    return overhead if overhead > 0.0 else 0.0
