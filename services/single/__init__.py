"""The single-process mode: auth, profile and offers in one process (``services.single.server``)."""
