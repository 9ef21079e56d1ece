"""The edge side of a router: the SDK listener, per-SDK channels and their connection ids."""
