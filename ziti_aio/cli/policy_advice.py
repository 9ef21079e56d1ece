"""``ziti-aio policy-advice IDENTITY SERVICE``: why an identity may or may not dial or bind a service,
read from the controller's policy advice (``GET /identities/{id}/policy-advice/{serviceId}``)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from ziti_aio.cli.client import open_client, reported
from ziti_aio.cli.request_options import current, with_request_options


def _policy_advice(
    identity: Annotated[str, typer.Argument(help="The identity's id or name.")],
    service: Annotated[str, typer.Argument(help="The service's id or name.")],
) -> None:
    """Explain whether an identity can dial or bind a service.

    Its service policies, the edge routers it and the service reach through edge router and service edge
    router policies, which routers they share and are online, and the posture checks each policy needs
    with whether the identity's API sessions pass them; -j prints the controller's answer.
    """
    with open_client() as client:
        identity_id = client.find("identities", identity, label="identity")["id"]
        service_id = client.find("services", service, label="service")["id"]
        answer = client.call("GET", f"/identities/{identity_id}/policy-advice/{service_id}")
    typer.echo(json.dumps(answer, indent=2) if current().output_json else explain(answer.get("data") or {}))


def explain(advice: dict[str, Any]) -> str:
    """The advice as lines a person reads: a verdict, then each reason it is not OK."""
    identity = (advice.get("identity") or {}).get("name", advice.get("identityId", "?"))
    service = (advice.get("service") or {}).get("name", advice.get("serviceId", "?"))
    dial, bind = bool(advice.get("isDialAllowed")), bool(advice.get("isBindAllowed"))
    identity_routers, service_routers = advice.get("identityRouterCount", 0), advice.get("serviceRouterCount", 0)
    common = advice.get("commonRouters") or []
    online = [r.get("name", r.get("id")) for r in common if r.get("isOnline")]
    problems = []
    if not dial and not bind:
        problems.append("no service policy lets the identity dial or bind the service")
    if not identity_routers:
        problems.append("no edge router policy gives the identity an edge router")
    if not service_routers:
        problems.append("no service edge router policy gives the service an edge router")
    if identity_routers and service_routers:
        if not common:
            problems.append("the identity and the service share no edge router")
        elif not online:
            problems.append("every edge router they share is offline")
    lines = [
        f"{'OK' if not problems else 'ERROR'}: {identity} -> {service}",
        f"  dial: {'yes' if dial else 'no'}, bind: {'yes' if bind else 'no'}",
        f"  edge routers: {identity_routers} for the identity, {service_routers} for the service, "
        f"{len(common)} shared, {len(online)} of them online" + (f" ({', '.join(online)})" if online else ""),
    ]
    posture = advice.get("posturePolicies") or []
    for kind, allowed in (("Dial", dial), ("Bind", bind)):
        policies = [p for p in posture if p.get("policyType") == kind]
        if allowed and policies and not any(p.get("isPassing") for p in policies):
            problems.append(f"the identity's posture passes the checks of no {kind} policy")
    for policy in (p for p in posture if p.get("postureChecks")):
        needs = ", ".join(f"{c.get('name')} ({c.get('typeId')}): {'passing' if c.get('isPassing') else 'failing'}"
                          for c in policy["postureChecks"])
        lines.append(f"  posture: {policy.get('policyName')} ({policy.get('policyType')}) needs {needs}")
    lines += [f"  - {p}" for p in problems]
    return "\n".join(lines)


policy_advice = reported(with_request_options(_policy_advice, tags=False))
