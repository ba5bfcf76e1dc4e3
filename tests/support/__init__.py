"""Test support: a suite running in a background thread, a real Envoy, a tiny HTTP client."""
