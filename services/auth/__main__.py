"""Runs the auth service: `python -m services.auth`."""

from services.auth.server import main

main()
