"""Hydra plugins shipped with imbsweep (discovered through the ``hydra_plugins`` namespace)."""
