"""HA controllers: a Raft cluster of controllers replicating the model's commands (docs/ha.md)."""
