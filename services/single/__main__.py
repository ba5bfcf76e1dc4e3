"""Runs auth, profile and offers in one process: `python -m services.single`."""

from services.single.server import main

# Guarded: a worker process the service spawns must not run it again.
if __name__ == "__main__":
    main()
