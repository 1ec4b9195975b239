"""Training: Lightning module, CLI and the deployable checkpoint format."""
