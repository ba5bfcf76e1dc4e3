"""Runs a command that the kernel stops when its parent dies: ``python -m
services.die_with_parent <parent pid> <command> [args...]``.

``p13n up`` starts every child through this. A supervisor killed with SIGKILL cannot stop
its children; ``PR_SET_PDEATHSIG`` (kept across ``exec``) has the kernel send them SIGTERM.
It used to be set in a ``preexec_fn``, but that makes ``subprocess`` fork rather than
vfork, and a fork from the supervisor, which holds gRPC channels, runs gRPC's fork
handlers in the child: with grpcio 1.80 and later they restart a poller whose epoll
descriptor ``close_fds`` then closes, and the child aborted before its ``exec`` at random
("epoll_wait error: Bad file descriptor", SIGABRT; grpc/grpc#43055). Without a
``preexec_fn`` no fork handler runs, and this small process sets the signal instead.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def guard(parent: int) -> None:
    """Has the kernel send this process SIGTERM when ``parent`` dies (or exits now if it
    already has). Also the auth service's body-check worker's initializer."""
    if sys.platform == "linux":
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the signal was set
        sys.exit(1)


def main(argv: list[str]) -> None:
    parent, command = int(argv[0]), argv[1:]
    guard(parent)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
