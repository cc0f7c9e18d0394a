"""Screen pop: what an agent sees when a call is offered (tier, IVR path, previous contacts)."""
