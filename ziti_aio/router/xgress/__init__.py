"""Circuit forwarding: binds, circuits and the relay of Data between SDK connections."""
