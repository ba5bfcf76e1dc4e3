"""The single-process mode: profile and offers in one process (``services.single.server``)."""
