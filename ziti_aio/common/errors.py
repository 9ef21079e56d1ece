"""The one error tree of ziti-aio.

Every class carries the OpenZiti error ``code`` and the HTTP status the REST layer answers
with. Errors are raised where the problem is found and translated once, at a layer boundary.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ZitiError(Exception):
    """Root of every error ziti-aio raises on purpose."""

    code: ClassVar[str] = "UNHANDLED"
    http_status: ClassVar[int] = 500
    default_message: ClassVar[str] = "an unexpected error occurred"

    def __init__(self, message: str | None = None, *, cause: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.cause = cause
        # Extra response headers (an ext-jwt refusal's WWW-Authenticate).
        self.headers: dict[str, str] = {}
        super().__init__(self.message)


class ConfigError(ZitiError):
    """A configuration file or option is invalid."""

    code = "INVALID_CONFIG"
    http_status = 400
    default_message = "the configuration is invalid"


def listen_failed(host: str, port: int, exc: OSError) -> ConfigError:
    """A listener that cannot bind ``host:port`` (in use, not an address of this host, not allowed)."""
    return ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def first_error(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first ``kind`` inside (possibly nested) exception groups, or ``exc`` itself if it is one."""
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = first_error(inner, kind)
            if found is not None:
                return found
    return None


class StoreFailed(ZitiError):
    """The durable store could not commit; the controller must restart to reload it."""

    code = "UNHANDLED"
    http_status = 503
    default_message = "the controller's store failed; it must be restarted"


class ClusterUnavailable(ZitiError):
    """A clustered controller cannot commit a change now: no leader, no majority, or not the leader."""

    code = "CLUSTER_HAS_NO_LEADER"
    http_status = 503
    default_message = "the cluster has no leader"


class ProtocolError(ZitiError):
    """A peer sent bytes that break the wire protocol; the connection is closed."""

    code = "PROTOCOL_ERROR"
    http_status = 400
    default_message = "protocol violation"


class ChannelError(ZitiError):
    """A channel to a peer failed."""

    code = "CHANNEL_ERROR"
    http_status = 503
    default_message = "channel failed"


class ChannelClosed(ChannelError):
    code = "CHANNEL_CLOSED"
    default_message = "channel closed"


class ChannelTimeout(ChannelError):
    code = "CHANNEL_TIMEOUT"
    default_message = "channel request timed out"


class AuthError(ZitiError):
    """The caller is not authenticated (no, expired or unknown session)."""

    code = "UNAUTHORIZED"
    http_status = 401
    default_message = "The request could not be completed. The session is not authorized or the credentials are invalid"


class InvalidAuth(AuthError):
    """Credentials were offered and are wrong."""

    code = "INVALID_AUTH"
    default_message = "The authentication request failed"


class PermissionDenied(AuthError):
    """Authenticated, but not allowed to do this (OpenZiti answers 401 UNAUTHORIZED too)."""

    code = "UNAUTHORIZED"
    default_message = "The caller does not have the permission required for this request"


class MfaInvalidToken(ZitiError):
    """A TOTP or recovery code that is wrong, expired or already used (docs/mfa.md)."""

    code = "MFA_INVALID_TOKEN"
    http_status = 400
    default_message = "An invalid token/code was provided"


class MfaExists(ZitiError):
    code = "MFA_EXISTS"
    http_status = 409
    default_message = "An MFA record already exists, try removing it"


class MfaNotEnrolled(ZitiError):
    code = "MFA_NOT_ENROLLED"
    http_status = 400
    default_message = "The current identity is not enrolled in MFA"


class RateLimited(ZitiError):
    code = "RATE_LIMITED"
    http_status = 429
    default_message = "The resource is rate limited and the rate limit has been exceeded. Please try again later"


class ExtJwtRefused(AuthError):
    """An external JWT was missing, invalid or expired (OpenZiti answers 401 UNAUTHORIZED with a
    ``WWW-Authenticate`` naming the enabled signers: docs/external-jwt.md)."""

    code = "UNAUTHORIZED"

    def __init__(self, message: str, *, error: str = "invalid", signer_ids: list[str] | None = None,
                 issuers: list[str] | None = None) -> None:
        super().__init__(message)
        self.error = error
        description = {"missing": "no matching token was provided", "expired": "token expired"}.get(
            error, "token is invalid")
        self.headers["WWW-Authenticate"] = (
            f'Bearer realm="openziti-primary-ext-jwt" error="{error}" error_description="{description}" '
            f'id="{"|".join(signer_ids or [])}" issuer="{"|".join(issuers or [])}"')


class NotFoundError(ZitiError):
    code = "NOT_FOUND"
    http_status = 404
    default_message = "The resource requested was not found or is no longer available"

    def __init__(self, kind: str = "", ident: str = "", message: str | None = None) -> None:
        self.kind = kind
        self.ident = ident
        super().__init__(message or (f"{kind} with id {ident} not found" if kind else None))


class ConflictError(ZitiError):
    code = "CONFLICT_CANNOT_MODIFY_REFERENCED"
    http_status = 409
    default_message = "The resource cannot be modified or deleted while it is referenced"


class ValidationError(ZitiError):
    """Input failed validation; ``field``/``reason``/``value`` name the first offending field."""

    code = "COULD_NOT_VALIDATE"
    http_status = 400
    default_message = "The supplied request contains an invalid document or no valid accept content were available"

    def __init__(self, message: str | None = None, *, field: str | None = None, value: Any = None) -> None:
        self.field = field
        self.value = value
        cause = None
        if field is not None:
            cause = {"field": field, "reason": message or "invalid value", "value": value}
        super().__init__(message, cause=cause)


class InvalidFilter(ValidationError):
    code = "INVALID_FILTER"
    default_message = "the filter is invalid"


class InvalidPagination(ValidationError):
    code = "INVALID_PAGINATION"
    default_message = "the paging parameters are invalid"


class InvalidEnrollmentToken(ZitiError):
    code = "INVALID_ENROLLMENT_TOKEN"
    http_status = 400
    default_message = "The supplied token is not valid"


class EnrollmentRefused(ZitiError):
    """The token's issuer is not trusted, or the controller refused the enrollment."""

    code = "ENROLLMENT_REFUSED"
    http_status = 400


class CouldNotProcessCsr(ValidationError):
    code = "COULD_NOT_PROCESS_CSR"
    default_message = "The supplied csr could not be processed"


class EnrollmentNotAllowed(ZitiError):
    code = "INVALID_ENROLLMENT_NOT_ALLOWED"
    http_status = 409
    default_message = "The configuration does not allow this enrollment"


class AlreadyEnrolled(ZitiError):
    code = "ENROLLMENT_IDENTITY_ALREADY_ENROLLED"
    http_status = 409
    default_message = ("The token supplied for this enrollment already has a matching identity, "
                       "cannot enroll a new identity")


class EnrollmentExpired(ZitiError):
    code = "ENROLLMENT_EXPIRED"
    http_status = 400
    default_message = "The enrollment token has expired"


class NoEdgeRoutersAvailable(ZitiError):
    code = "NO_EDGE_ROUTERS_AVAILABLE"
    http_status = 400
    default_message = "No edge routers are assigned and online to handle the requested connection"


class InvalidPosture(ZitiError):
    """A session refused because the caller's posture passes no policy granting the service
    (the failing checks are in the cause: docs/posture.md)."""

    code = "INVALID_POSTURE"
    http_status = 409
    default_message = "Posture response data is missing or wrong"


class ControllerUnavailable(ZitiError):
    """The controller could not be reached or did not answer in time."""

    code = "CONTROLLER_UNAVAILABLE"
    http_status = 503
    default_message = "the controller is unavailable"


class NotInHaMode(ZitiError):
    """A cluster operation on a controller that runs alone (OpenZiti answers the same, docs/fabric.md)."""

    code = "SERVER_NOT_RUNNING_IN_HA_MODE"
    http_status = 400
    default_message = "The server is not running in HA mode. HA operations are not permitted"


class NotImplementedHere(ZitiError):
    """An operation OpenZiti's API files declare but OpenZiti's controller leaves unimplemented (it answers
    501 too: docs/edge-api.md, "Operations OpenZiti declares but does not implement")."""

    code = "NOT_IMPLEMENTED"
    http_status = 501
    default_message = "the operation is declared by the API but not implemented"


class UnsupportedMedia(ZitiError):
    code = "UNSUPPORTED_MEDIA"
    http_status = 415
    default_message = "The request body's media type is not supported"


class BodyTooLarge(ZitiError):
    code = "REQUEST_TOO_LARGE"
    http_status = 413
    default_message = "The request body is too large"


class CircuitError(ZitiError):
    code = "CIRCUIT_ERROR"
    http_status = 503
    default_message = "the circuit could not be created"


class NoTerminators(CircuitError):
    code = "NO_TERMINATORS"
    default_message = "the service has no terminators"


class PathUnavailable(CircuitError):
    code = "PATH_UNAVAILABLE"
    default_message = "no path to the service's terminator"


class InvalidSession(CircuitError):
    code = "INVALID_SESSION"
    http_status = 401
    default_message = "Invalid Session"


class EncryptionDataMissing(CircuitError):
    code = "ENCRYPTION_DATA_MISSING"
    default_message = "the service requires end-to-end encryption and a key is missing"
