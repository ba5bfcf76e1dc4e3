"""Runs the offers service: `python -m services.offers`."""

from services.offers.server import main

main()
