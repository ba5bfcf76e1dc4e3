"""The gateway: Envoy's configuration template, its renderer, and what browsers load."""
