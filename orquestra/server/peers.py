"""Which local user opened a loopback connection: the kernel's answer, on Linux.

A TCP connection from this machine has two sockets, the server's and the client's; the
client's belongs to the user whose process opened it. Linux says whose through the
`sock_diag` netlink interface (what `ss -e` prints): one exact lookup by the connection's
addresses and ports, about 30 µs, open to unprivileged processes. Elsewhere (Windows,
macOS) nothing answers this cheaply and `peer_uid` returns None.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

# From <linux/netlink.h>, <linux/sock_diag.h> and <linux/inet_diag.h>.
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLMSG_ERROR = 2
NLMSG_HEADER = struct.Struct("=IHHII")
INET_DIAG_NOCOOKIE = 0xFFFFFFFF
ALL_STATES = 0xFFFFFFFF
# inet_diag_msg: family, state, timer, retrans (4 bytes), the socket id (48), expires,
# rqueue, wqueue (12), then uid and inode.
UID_OFFSET = NLMSG_HEADER.size + 4 + 48 + 12
# How long the kernel may take to answer (it answers at once; a bound, not a wait).
ANSWER_TIMEOUT_S = 1.0


def peer_uid(client: tuple[str, int], server: tuple[str, int]) -> int | None:
    """The uid owning the client end of the TCP connection `client` → `server`, or None.

    None: not Linux, the addresses are not both of one family, or the kernel does not
    know the connection (it closed, or it comes from another network namespace).
    """
    if not hasattr(socket, "AF_NETLINK"):
        return None
    try:
        source, target = ipaddress.ip_address(client[0]), ipaddress.ip_address(server[0])
    except ValueError:
        return None
    if source.version != target.version:
        return None
    family = socket.AF_INET if source.version == 4 else socket.AF_INET6
    sockid = (
        struct.pack("!HH", client[1], server[1])
        + source.packed.ljust(16, b"\0")
        + target.packed.ljust(16, b"\0")
        + struct.pack("=III", 0, INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE)
    )
    request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, ALL_STATES) + sockid
    size = NLMSG_HEADER.size + len(request)
    header = NLMSG_HEADER.pack(size, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0)
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as link:
            link.settimeout(ANSWER_TIMEOUT_S)
            link.send(header + request)
            answer = link.recv(8192)
    except OSError:
        return None
    if len(answer) < UID_OFFSET + 4:
        return None
    kind = NLMSG_HEADER.unpack_from(answer)[1]
    if kind == NLMSG_ERROR:
        return None
    uid: int = struct.unpack_from("=I", answer, UID_OFFSET)[0]
    return uid


def can_tell_peers() -> bool:
    """Whether this system says who opened a loopback connection (Linux's sock_diag)."""
    if not hasattr(socket, "AF_NETLINK"):
        return False
    try:
        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG).close()
    except OSError:
        return False
    return True
