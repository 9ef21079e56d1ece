"""Every kind of entity the controller stores, named by its REST collection.

A :class:`Kind` is a ``str``, so it is also the key in the store and the path segment in the
management API (``/edge/management/v1/edge-routers``). What each kind holds, how it is checked
and how it is rendered is declared once per kind in :mod:`ziti_aio.controller.model.records`.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """A stored entity kind; the value is OpenZiti's collection name."""

    IDENTITIES = "identities"
    SERVICES = "services"
    CONFIGS = "configs"
    CONFIG_TYPES = "config-types"
    EDGE_ROUTERS = "edge-routers"
    SERVICE_POLICIES = "service-policies"
    EDGE_ROUTER_POLICIES = "edge-router-policies"
    SERVICE_EDGE_ROUTER_POLICIES = "service-edge-router-policies"
    ENROLLMENTS = "enrollments"
    AUTHENTICATORS = "authenticators"
    TERMINATORS = "terminators"
    CAS = "cas"
    AUTH_POLICIES = "auth-policies"
    MFAS = "mfas"
    EXTERNAL_JWT_SIGNERS = "external-jwt-signers"
    POSTURE_CHECKS = "posture-checks"
    API_SESSIONS = "api-sessions"
    SESSIONS = "sessions"
    REVOCATIONS = "revocations"
    CONTROLLER_SETTINGS = "controller-settings"
    API_SESSION_CERTIFICATES = "api-session-certificates"
