"""Getting text out of a catalog file: compression (by magic bytes) and character encoding.

Every reader goes through here, so every text format takes the same inputs:

- **Compression** is recognised by the file's first bytes, not its name: gzip (``1f 8b``),
  bzip2 (``BZh``) and xz (``fd 37 7a 58 5a 00``). A zip archive is an error asking to unpack it.
- **Encoding** ``auto`` (the default) reads a byte-order mark (UTF-8, UTF-16, UTF-32), or
  recognises BOM-less UTF-16 by its zero bytes, and otherwise requires valid UTF-8 (ASCII is
  UTF-8). A file that is not UTF-8 is an error naming the first undecodable line and the
  ``--encoding`` option: Latin-1, cp1252 and Shift-JIS cannot be told apart from the bytes, and
  guessing would garble ids and types silently. With ``--encoding NAME`` (any Python codec:
  ``latin-1``, ``cp1252``, ``shift_jis``, ``euc_jp``, ``utf-16`` ...) the file is decoded with
  it, and an undecodable byte is an error naming the line.

:func:`read_text` returns the whole file as UTF-8 bytes, which the readers parse.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
from pathlib import Path
from typing import IO

from espb.errors import CatalogError, ConfigError

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bz2"),
    (b"\xfd7zXZ\x00", "xz"),
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHUNK = 1 << 24
ENCODING_FIX = (
    "name the file's encoding with --encoding, e.g. --encoding cp1252 (Windows), "
    "--encoding latin-1, --encoding shift_jis or euc_jp (Japanese), --encoding utf-16"
)


def compression_of(path: str | Path) -> str | None:
    """``gzip``, ``bz2``, ``xz`` or None, from the file's magic bytes."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04"):
        raise CatalogError(
            path,
            "is a zip archive, which espb does not read",
            "unpack it and ingest the file in it",
        )
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def open_binary(path: str | Path) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip, bzip2 or xz."""
    comp = compression_of(path)
    if comp == "gzip":
        return gzip.open(path, "rb")
    if comp == "bz2":
        return bz2.open(path, "rb")
    if comp == "xz":
        return lzma.open(path, "rb")
    return open(path, "rb")


def read_head(path: str | Path, n: int) -> bytes:
    """The first ``n`` decompressed bytes (fewer if the stream is damaged or shorter)."""
    try:
        with open_binary(path) as fh:
            return fh.read(n)
    except (OSError, EOFError, lzma.LZMAError):
        return b""


def check_encoding(encoding: str) -> str:
    """``auto`` or a codec Python knows; ConfigError otherwise."""
    if encoding == "auto":
        return encoding
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError) as exc:
        raise ConfigError(
            f"--encoding: {encoding!r} is not a known text encoding; use auto, utf-8, latin-1, "
            "cp1252, shift_jis, euc_jp, utf-16 ..."
        ) from exc
    return encoding


def detect_encoding(head: bytes) -> str:
    """The encoding ``auto`` picks from the first bytes: a BOM, BOM-less UTF-16, else utf-8."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    sample = head[:4096]
    if len(sample) >= 4 and sample.count(0) >= len(sample) // 4:
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > 3 * max(even, 1):
            return "utf-16-le"
        if even > 3 * max(odd, 1):
            return "utf-16-be"
    return "utf-8"


def _decode_error(path: Path, data: bytes, exc: UnicodeDecodeError, enc: str, auto: bool) -> None:
    line = data.count(b"\n", 0, exc.start) + 1
    byte = data[exc.start : exc.start + 1].hex()
    if auto:
        problem = f"is not UTF-8 text: byte 0x{byte} on line {line} is not valid UTF-8"
    else:
        problem = f"cannot be decoded as {enc}: byte 0x{byte} on line {line} ({exc.reason})"
    raise CatalogError(path, problem, ENCODING_FIX) from exc


def read_text(path: str | Path, encoding: str = "auto") -> bytes:
    """The whole file, decompressed, as UTF-8 bytes (a UTF-8 BOM removed).

    Raises :class:`CatalogError` for a damaged compressed file and for bytes the encoding
    cannot decode (with ``auto``: bytes that are not UTF-8), naming the line.
    """
    path = Path(path)
    check_encoding(encoding)
    try:
        with open_binary(path) as fh:
            data = fh.read()
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise CatalogError(
            path,
            f"cannot be read: the compressed data is damaged or truncated ({exc})",
            "download the file again",
        ) from exc
    auto = encoding == "auto"
    enc = detect_encoding(data[:4096]) if auto else encoding
    if auto and enc == "utf-8" and b"\x00" in data[:4096]:
        raise CatalogError(
            path,
            "is not a text file (it holds binary data)",
            "pass the catalog as text (ISC or ComCat CSV, QuakeML, a delimited file), "
            "compressed with gzip, bzip2 or xz if you like",
        )
    norm = codecs.lookup(enc).name
    if norm in ("utf-8", "utf-8-sig"):
        if data.startswith(codecs.BOM_UTF8):
            data = data[3:]
        dec = codecs.getincrementaldecoder("utf-8")()
        for i in range(0, len(data), _CHUNK):  # validate without holding a decoded copy
            try:
                dec.decode(data[i : i + _CHUNK], final=i + _CHUNK >= len(data))
            except UnicodeDecodeError as exc:
                exc.start += i
                _decode_error(path, data, exc, enc, auto)
        return data
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        _decode_error(path, data, exc, enc, auto)
    return text.lstrip("\ufeff").encode("utf-8")


__all__ = [
    "ENCODING_FIX",
    "check_encoding",
    "compression_of",
    "detect_encoding",
    "open_binary",
    "read_head",
    "read_text",
]
