"""Where OpenZiti's HTTP APIs live on a controller (see docs/edge-api.md §1): one definition for every role."""

CLIENT = "/edge/client/v1"
"""The Edge Client API: SDK login, services, sessions, enrollment."""

MANAGEMENT = "/edge/management/v1"
"""The Edge Management API: what admins and the CLI call."""

EVENTS = MANAGEMENT + "/events"
"""The controller's live event stream (a websocket, admins only; docs/events.md)."""

MANAGEMENT_SERVICE = "ziti-aio-management"
"""The ziti service a dark management plane is served as, unless configured otherwise (docs/operations.md)."""

FABRIC = "/fabric/v1"
"""The Fabric API: routers, services, terminators, links, circuits, inspections and the database."""

LEGACY_CLIENT = "/edge/v1"
"""The client API's old prefix, which libziti 0.29.3 still uses."""

CACERTS = "/.well-known/est/cacerts"
"""The controller's CA bundle (base64 PKCS#7), fetched before anything is trusted."""


OIDC = "/oidc"
"""The controller's OpenID Connect provider, on the client API's listener (docs/oidc.md)."""
