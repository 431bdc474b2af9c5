"""The IDX files MNIST and Fashion-MNIST are published as: decoded, and checked against digests.

An IDX file is a big-endian header (magic, type, dimensions) followed by the array. A download
is trusted only once it matches its published digest: the MD5 of the gz file as served, or
the SHA-256 of the decoded array's raw bytes (independent of how the gz file was compressed).
Fetching the files and caching them is :mod:`hpsearch.data.download`'s.
"""

from __future__ import annotations

import gzip
import hashlib

import numpy as np

__all__ = ["array_sha256", "decode_and_check", "parse_idx"]


def array_sha256(array: np.ndarray) -> str:
    """The SHA-256 hex digest of the array's raw bytes."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def parse_idx(raw: bytes, what: str) -> np.ndarray:
    """Decodes an IDX file (big-endian header, then the array) of unsigned bytes."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{what}: expected an IDX file (magic 0x0000), but got {raw[:4].hex() or 'nothing'}"
        )
    if raw[2] != 0x08:
        raise ValueError(f"{what}: expected IDX type 0x08 (unsigned byte), but got 0x{raw[2]:02x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{what}: truncated IDX header ({len(raw)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(shape, dtype=np.int64))
    if len(raw) - header != size:
        raise ValueError(
            f"{what}: expected {size} bytes of data for shape {shape}, but got {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def decode_and_check(gz: bytes, source: str, check: str, expected: str) -> np.ndarray:
    """The verified array in ``gz``; a ValueError naming the checksum if it does not match.

    ``check`` is ``"md5-gz"`` (``expected`` is the MD5 of ``gz``) or ``"sha256-array"`` (the
    SHA-256 of the decoded array); ``source`` names the file in messages.
    """
    if check == "md5-gz":
        got = hashlib.md5(gz).hexdigest()
        if got != expected:
            raise ValueError(
                f"checksum mismatch for {source}: expected md5 {expected}, but got {got} "
                "(corrupt download)"
            )
    try:
        raw = gzip.decompress(gz)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(
            f"{source}: expected a gzip file, but it could not be read ({exc})"
        ) from None
    array = parse_idx(raw, source)
    if check == "sha256-array":
        got = array_sha256(array)
        if got != expected:
            raise ValueError(
                f"checksum mismatch for {source}: expected sha256 {expected} of the decoded "
                f"array, but got {got} (corrupt download)"
            )
    return array
