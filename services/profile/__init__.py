"""The profile service: real-time configuration, events, stitching, attributes, imports."""
