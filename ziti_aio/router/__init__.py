"""The edge router role; docs/router.md describes its parts and how a message flows through them."""
