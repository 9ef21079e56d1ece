"""The web console at ``/console/`` and single-page application hosting (docs/console.md)."""
