"""The simulated cluster's DNS (standing for CoreDNS): A records of the Services, over UDP.

Run inside the kube-dns pod's network namespace: ``python -m support.cluster_dns RECORDS``
where RECORDS is a JSON file ``{"<fqdn>": ["<ip>", ...]}`` the harness rewrites (whole,
then renamed into place) whenever endpoints change; it is read again when its mtime moves.
A known name answers its A records (a headless Service: every ready pod; a ClusterIP
Service: its virtual address) with CoreDNS's 5 s TTL, and no AAAA record; any other name
is NXDOMAIN, as CoreDNS answers a name outside the cluster it cannot forward.

Why not only a hosts file: Envoy's resolver (c-ares) reads /etc/hosts once and never sees
it change, so a Service whose pods come and go (a restarted pod has a new address) must
be resolved by DNS, as in a real cluster.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import struct
import sys
from pathlib import Path

TTL = 5
A, AAAA, IN = 1, 28, 1


def _question(packet: bytes) -> tuple[str, int, int]:
    """The first question's name, type, and the offset just after it."""
    labels, offset = [], 12
    while packet[offset]:
        length = packet[offset]
        labels.append(packet[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    offset += 1
    qtype = struct.unpack_from("!H", packet, offset)[0]
    return ".".join(labels).lower().rstrip("."), qtype, offset + 4


def answer(packet: bytes, records: dict[str, list[str]]) -> bytes:
    """The response to one query."""
    name, qtype, end = _question(packet)
    known = name in records
    addresses = records.get(name, []) if qtype == A else []
    rcode = 0 if known else 3
    flags = 0x8000 | (packet[2] & 0x01) << 8 | 0x0400 | 0x0080 | rcode  # QR, RD, AA, RA
    header = packet[:2] + struct.pack("!HHHHH", flags, 1, len(addresses), 0, 0)
    body = packet[12:end]
    for address in addresses:
        body += struct.pack("!HHHIH", 0xC00C, A, IN, TTL, 4) + ipaddress.IPv4Address(address).packed
    return header + body


def serve(records_path: Path, address: str = "0.0.0.0", port: int = 53) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    records: dict[str, list[str]] = {}
    seen = -1
    while True:
        packet, peer = sock.recvfrom(4096)
        mtime = os.stat(records_path).st_mtime_ns
        if mtime != seen:
            records, seen = json.loads(records_path.read_text()), mtime
        try:
            sock.sendto(answer(packet, records), peer)
        except (IndexError, struct.error, UnicodeError):
            continue  # a malformed query: no answer, as a resolver would time out


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
