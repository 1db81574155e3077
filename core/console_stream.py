"""The wire protocol between an executor's console stream server and the web.

Who uses it: ``lockgate.executor.console_stream`` (the server, one per
executor) and ``lockgate.web.console_stream`` (the client, behind the
``console-stream`` websocket).  Both sides import it from here because the
executor and the web never import each other.

The exchange, over TCP:

1. the client sends one line, the build's uuid: ``<uuid>\\n`` (ASCII, at
   most ``MAX_REQUEST`` bytes);
2. the server answers with frames of one kind byte, a 4-byte big-endian
   length and the payload:

   - ``D`` (data): the next bytes of the build's ``job-output.txt``, from
     its first byte on (a frame may end inside a UTF-8 character);
   - ``E`` (end): the build ended and every byte was sent; the payload is a
     message for people (``build ended: SUCCESS``); then the server closes;
   - ``X`` (error): nothing to stream (unknown build, bad request); the
     payload says why; then the server closes.

A connection closed without ``E`` or ``X`` means the executor went away.
The server reads the end of the client's side as the client leaving (it
drops the follower at once), so a client must not shut down its sending
side while it follows.
Frames (rather than raw text, as Zuul's finger protocol has it) let the end
of a build be told from a broken connection.
"""

from __future__ import annotations

import enum
import re
import struct
from dataclasses import dataclass

HEADER = struct.Struct(">cI")
MAX_REQUEST = 256
# Largest payload a server sends in one frame; a client refuses more (a
# corrupt stream would otherwise make it allocate whatever the length says).
MAX_FRAME = 1 << 20
# Build uuids are plain names (they are also log directory names).
UUID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class FrameKind(enum.Enum):
    DATA = b"D"
    END = b"E"
    ERROR = b"X"


@dataclass(frozen=True)
class Frame:
    kind: FrameKind
    payload: bytes

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8", errors="replace")


class ProtocolError(Exception):
    """The peer sent something this protocol does not allow; ``str()`` says what."""


def valid_uuid(uuid: str) -> bool:
    return bool(UUID_RE.match(uuid))


def encode_request(uuid: str) -> bytes:
    if not valid_uuid(uuid):
        raise ValueError(f"not a build uuid: {uuid!r}")
    return uuid.encode("ascii") + b"\n"


def decode_request(line: bytes) -> str:
    """The uuid of a request line (without its newline)."""
    try:
        uuid = line.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ProtocolError("the request is not ASCII") from None
    if not valid_uuid(uuid):
        raise ProtocolError(f"not a build uuid: {uuid[:64]!r}")
    return uuid


def encode_frame(kind: FrameKind, payload: bytes) -> bytes:
    if len(payload) > MAX_FRAME:
        raise ValueError(f"frame of {len(payload)} bytes is larger than {MAX_FRAME}")
    return HEADER.pack(kind.value, len(payload)) + payload


def decode_header(header: bytes) -> tuple[FrameKind, int]:
    """Kind and payload length of a frame header (``HEADER.size`` bytes)."""
    raw_kind, length = HEADER.unpack(header)
    try:
        kind = FrameKind(raw_kind)
    except ValueError:
        raise ProtocolError(f"unknown frame kind {raw_kind!r}") from None
    if length > MAX_FRAME:
        raise ProtocolError(f"frame of {length} bytes is larger than {MAX_FRAME}")
    return kind, length
