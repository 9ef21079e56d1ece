"""The fabric side of a router: links to other routers, the forwarding table, the circuits this
router has an end of, and end-to-end flow control. Nothing here knows about SDKs."""
