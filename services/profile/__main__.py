"""Runs the profile service: `python -m services.profile`."""

from services.profile.server import main

main()
