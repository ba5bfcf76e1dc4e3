"""Runs the offers service: `python -m services.offers`."""

from services.offers.server import main

# Guarded: a worker process the service spawns (auth's body checker) must not run it again.
if __name__ == "__main__":
    main()
