"""The controller's events: one bus (:mod:`.bus`), typed events named as OpenZiti names them
(:mod:`.types`), the model's changes as events (:mod:`.entity_changes`) and sinks (:mod:`.file_sink`).
The shapes are in docs/events.md."""
