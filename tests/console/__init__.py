"""Browser and HTTP tests of the web console and SPA hosting (docs/console.md)."""
