"""The controller's OpenID Connect provider at ``/oidc`` (docs/oidc.md)."""
