"""Every fuzz target by name: the strategy of cases and the check that must hold for each.

The in-suite tests (``test_fuzz_*.py``) run each target for a bounded number of examples;
``bench/fuzz.py`` runs the same ones for as long as it is asked to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from . import config_targets, model_targets, pki_targets, wire_targets

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class Target:
    strategy: st.SearchStrategy[Any]
    check: Callable[[Any], None]


TARGETS: dict[str, Target] = {
    "frame": Target(wire_targets.frame_cases(), wire_targets.check_frames),
    "channel": Target(wire_targets.channel_cases(), wire_targets.check_channel),
    "edge": Target(wire_targets.edge_cases(), wire_targets.check_edge),
    "ctrl": Target(wire_targets.ctrl_cases(), wire_targets.check_ctrl),
    "e2e": Target(wire_targets.e2e_cases(), wire_targets.check_e2e),
    "jwt": Target(pki_targets.jwt_cases(), pki_targets.check_jwt),
    "csr": Target(pki_targets.csr_cases(), pki_targets.check_csr),
    "bundle": Target(pki_targets.bundle_cases(), pki_targets.check_bundle),
    "query": Target(model_targets.query_cases(), model_targets.check_query),
    "config-data": Target(model_targets.config_data_cases(), model_targets.check_config_data),
    "config-schema": Target(model_targets.config_schema_cases(), model_targets.check_config_schema),
    "node-config": Target(config_targets.node_documents(), config_targets.check_node_document),
    "node-toml": Target(config_targets.toml_cases(), config_targets.check_node_toml),
    "identity": Target(config_targets.identity_cases(), config_targets.check_identity),
}


def bounded(max_examples: int) -> settings:
    """Settings of the in-suite runs: deterministic, no deadline, a few seconds per target on a small machine."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
