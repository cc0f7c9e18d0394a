"""IVR flows as data: models, the YAML loader, the validator and the state machine."""
