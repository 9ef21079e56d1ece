"""The entity nouns of ``create``/``list``/``update``/``delete``, as ``ziti`` spells them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Noun:
    """One kind of entity: its CLI words, REST collection and the words used in messages."""

    singular: str
    collection: str
    label: str
    alias: str | None = None
    plural_alias: str | None = None
    named: bool = True
    deletable: bool = True


NOUNS: tuple[Noun, ...] = (
    Noun("identity", "identities", "identity"),
    Noun("service", "services", "service"),
    Noun("config", "configs", "config"),
    Noun("config-type", "config-types", "config type"),
    Noun("edge-router", "edge-routers", "edge router", alias="er"),
    Noun("transit-router", "transit-routers", "transit router"),
    Noun("service-policy", "service-policies", "service policy", alias="sp", plural_alias="sps"),
    Noun("edge-router-policy", "edge-router-policies", "edge router policy", alias="erp", plural_alias="erps"),
    Noun("service-edge-router-policy", "service-edge-router-policies", "service edge router policy",
         alias="serp", plural_alias="serps"),
    Noun("ca", "cas", "ca"),
    Noun("auth-policy", "auth-policies", "auth policy"),
    Noun("ext-jwt-signer", "external-jwt-signers", "external jwt signer", alias="external-jwt-signer",
         plural_alias="ext-jwt-signers"),
    Noun("posture-check", "posture-checks", "posture check"),
    Noun("enrollment", "enrollments", "enrollment", named=False),
    Noun("authenticator", "authenticators", "authenticator", named=False),
    Noun("terminator", "terminators", "terminator", named=False),
    Noun("api-session", "api-sessions", "api session", named=False),
    Noun("session", "sessions", "session", named=False),
    Noun("circuit", "circuits", "circuit", named=False),
    Noun("link", "links", "link", named=False, deletable=False),
)
BY_SINGULAR = {n.singular: n for n in NOUNS}
ATTRIBUTE_LISTS = ("identity-role-attributes", "service-role-attributes", "edge-router-role-attributes",
                   "posture-check-role-attributes")
# Nouns whose related lists (``/{collection}/{id}/{relation}``) the CLI offers.
RELATED = ("identity", "service", "config", "config-type", "edge-router", "service-policy", "edge-router-policy",
           "service-edge-router-policy")


def display_name(noun: Noun, entity: dict[str, object]) -> str:
    """The entity's name, or its id for unnamed kinds."""
    return str(entity.get("name") or entity["id"]) if noun.named else str(entity["id"])
