"""Networks built from architectures (torch lives here; spaces stay torch-free)."""
