"""The edge side of a router: the SDK listener, per-SDK channels and their connection ids, binds
(terminators), and the dial that turns an SDK's Connect into a circuit."""
