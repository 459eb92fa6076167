"""Append one Parquet file's row groups to a copy of another, without decoding a page.

A Parquet file is its pages, then a footer (Thrift compact protocol) that finds every column chunk by its absolute
offset in the file. Copying the second file's pages after the first file's pages and ending with one footer that
lists both files' row groups (the second's offsets moved to where its pages now lie) gives the same rows, in the
same order, as a writer given both tables one after the other; it costs a copy of the bytes instead of decoding
and encoding every value. Parquet-mr's `ParquetFileWriter.appendFile` does the same.

The two files must agree on everything but their row groups: schema, key-value metadata and column orders
byte for byte, and no encryption; and the appended file must have no offset index (its page locations are
absolute offsets inside the copied bytes, which this does not rewrite). Otherwise, and for a footer that does not
decode, `append_parquet` raises `CannotAppend`, and the caller writes the file whole.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

MAGIC = b"PAR1"
# Thrift compact protocol types
STOP, TRUE, FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(13)
# field ids of parquet.thrift
FILE_NUM_ROWS, FILE_ROW_GROUPS, FILE_ENCRYPTION, FILE_SIGNING_KEY = 3, 4, 8, 9
FILE_SAME = {2: "schema", 5: "key-value metadata", 7: "column orders"}
GROUP_COLUMNS, GROUP_FILE_OFFSET, GROUP_ORDINAL = 1, 5, 7
MAX_ORDINAL = 2**15 - 1  # a row group's ordinal is a Thrift i16
CHUNK_FILE_OFFSET, CHUNK_META, CHUNK_OFFSET_INDEX, CHUNK_COLUMN_INDEX, CHUNK_CRYPTO = 2, 3, 4, 6, 8
META_OFFSETS = (9, 10, 11, 14)  # data, index and dictionary page offsets, bloom filter offset


class CannotAppend(Exception):
    """The two files cannot be joined by their footers (different schema, encrypted, not Parquet)."""


def append_parquet(base: Path, extra: Path, out: BinaryIO) -> int:
    """Write to `out` (an empty file) `base`'s rows, then `extra`'s, as one Parquet file; returns its row count."""
    base_meta, base_end = _footer(base)
    extra_meta, extra_end = _footer(extra)
    for field_id, what in FILE_SAME.items():
        if _field(base_meta, field_id) != _field(extra_meta, field_id):
            raise CannotAppend(f"the files differ in their {what}")
    for meta in (base_meta, extra_meta):
        if _field(meta, FILE_ENCRYPTION) is not None or _field(meta, FILE_SIGNING_KEY) is not None:
            raise CannotAppend("an encrypted file")
    groups: tuple[int, list[Any]] = _field(base_meta, FILE_ROW_GROUPS) or (STRUCT, [])
    moved = [_moved(group, base_end - len(MAGIC), len(groups[1]) + i) for i, group in enumerate(_groups(extra_meta))]
    rows = _field(base_meta, FILE_NUM_ROWS) + _field(extra_meta, FILE_NUM_ROWS)
    merged = _with(_with(base_meta, FILE_ROW_GROUPS, (STRUCT, groups[1] + moved)), FILE_NUM_ROWS, rows)
    _copy(base, out, 0, base_end)
    _copy(extra, out, len(MAGIC), extra_end - len(MAGIC))
    footer = _write_struct(merged)
    out.write(footer + struct.pack("<I", len(footer)) + MAGIC)
    return rows


def _footer(path: Path) -> tuple[list[list[Any]], int]:
    """A file's decoded footer and where its pages end (the footer's first byte)."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(len(MAGIC))
        handle.seek(max(0, size - 8))
        tail = handle.read(8)
        if size < 12 or head != MAGIC or tail[4:] != MAGIC:
            raise CannotAppend(f"{path.name} is not a plain Parquet file")
        length = struct.unpack("<I", tail[:4])[0]
        end = size - 8 - length
        if end < len(MAGIC):
            raise CannotAppend(f"{path.name} has a footer longer than the file")
        handle.seek(end)
        footer = handle.read(length)
    try:
        meta, used = _read_struct(footer, 0)
    except (IndexError, RecursionError, ValueError) as exc:  # cut short, or nested past reason
        raise CannotAppend(f"{path.name} has a footer that does not decode ({type(exc).__name__})") from None
    if used != length:
        raise CannotAppend(f"{path.name} has bytes after its footer's end")
    return meta, end


def _groups(meta: list[list[Any]]) -> list[list[list[Any]]]:
    groups = _field(meta, FILE_ROW_GROUPS)
    return groups[1] if groups else []


def _moved(group: list[list[Any]], delta: int, ordinal: int) -> list[list[Any]]:
    """A row group whose pages moved `delta` bytes further into the file, numbered `ordinal`."""
    group = _shifted(group, (GROUP_FILE_OFFSET,), delta)
    if _field(group, GROUP_ORDINAL) is not None:
        if ordinal > MAX_ORDINAL:
            raise CannotAppend(f"more than {MAX_ORDINAL + 1} row groups")
        group = _with(group, GROUP_ORDINAL, ordinal)
    chunks = []
    for chunk in _field(group, GROUP_COLUMNS)[1]:
        if _field(chunk, CHUNK_CRYPTO) is not None:
            raise CannotAppend("an encrypted column")
        if _field(chunk, CHUNK_OFFSET_INDEX) is not None:
            raise CannotAppend("the appended file has an offset index (page locations this does not move)")
        chunk = _shifted(chunk, (CHUNK_FILE_OFFSET, CHUNK_COLUMN_INDEX), delta)
        meta = _field(chunk, CHUNK_META)
        if meta is not None:
            chunk = _with(chunk, CHUNK_META, _shifted(meta, META_OFFSETS, delta))
        chunks.append(chunk)
    return _with(group, GROUP_COLUMNS, (STRUCT, chunks))


def _shifted(fields: list[list[Any]], ids: tuple[int, ...], delta: int) -> list[list[Any]]:
    return [[i, kind, value + delta if i in ids and kind == I64 else value] for i, kind, value in fields]


def _field(fields: list[list[Any]], field_id: int) -> Any:
    return next((value for i, _, value in fields if i == field_id), None)


def _with(fields: list[list[Any]], field_id: int, value: Any) -> list[list[Any]]:
    if _field(fields, field_id) is None:
        raise CannotAppend(f"field {field_id} is missing")
    return [[i, kind, value if i == field_id else old] for i, kind, old in fields]


def _copy(source: Path, out: BinaryIO, start: int, length: int) -> None:
    """Copy `length` bytes of `source` from `start` to the end of `out` (in the kernel where it can)."""
    out.flush()
    with open(source, "rb", buffering=0) as handle:  # unbuffered: reads go on from where the kernel copy stopped
        handle.seek(start)
        try:
            while length > 0 and hasattr(os, "copy_file_range"):
                copied = os.copy_file_range(handle.fileno(), out.fileno(), length)
                if copied == 0:
                    break
                length -= copied
        except OSError:  # a file system without it: copy the rest by reading
            pass
        out.seek(0, os.SEEK_END)
        while length > 0:
            block = handle.read(min(length, 1 << 20))
            if not block:
                raise CannotAppend(f"{source.name} is shorter than its footer says")
            out.write(block)
            length -= len(block)


# Thrift compact protocol: a struct is a list of [field id, type, value]; a list or set is (element type, items);
# a map is (key type, value type, pairs); doubles stay 8 raw bytes, so a footer is written back byte for byte.


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _unzigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _read_struct(data: bytes, pos: int) -> tuple[list[list[Any]], int]:
    fields: list[list[Any]] = []
    last = 0
    while True:
        header = data[pos]
        pos += 1
        if header == STOP:
            return fields, pos
        kind, delta = header & 0x0F, header >> 4
        if delta:
            field_id = last + delta
        else:
            raw, pos = _varint(data, pos)
            field_id = _unzigzag(raw)
        if kind in (TRUE, FALSE):
            value: Any = kind == TRUE
        else:
            value, pos = _read_value(data, pos, kind)
        fields.append([field_id, kind, value])
        last = field_id


def _read_value(data: bytes, pos: int, kind: int) -> tuple[Any, int]:
    if kind == BYTE or kind in (TRUE, FALSE):  # a bool inside a list is one byte, kept as it is
        return data[pos], pos + 1
    if kind in (I16, I32, I64):
        raw, pos = _varint(data, pos)
        return _unzigzag(raw), pos
    if kind == DOUBLE:
        return data[pos : pos + 8], pos + 8
    if kind == BINARY:
        length, pos = _varint(data, pos)
        return data[pos : pos + length], pos + length
    if kind in (LIST, SET):
        header = data[pos]
        pos += 1
        size, element = header >> 4, header & 0x0F
        if size == 15:
            size, pos = _varint(data, pos)
        items = []
        for _ in range(size):
            item, pos = _read_value(data, pos, element)
            items.append(item)
        return (element, items), pos
    if kind == MAP:
        size, pos = _varint(data, pos)
        if size == 0:
            return (0, 0, []), pos
        types = data[pos]
        pos += 1
        pairs = []
        for _ in range(size):
            key, pos = _read_value(data, pos, types >> 4)
            value, pos = _read_value(data, pos, types & 0x0F)
            pairs.append((key, value))
        return (types >> 4, types & 0x0F, pairs), pos
    if kind == STRUCT:
        return _read_struct(data, pos)
    raise CannotAppend(f"a footer with an unknown Thrift type {kind}")


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def _write_struct(fields: list[list[Any]]) -> bytes:
    out = bytearray()
    last = 0
    for field_id, kind, value in fields:
        wire = (TRUE if value else FALSE) if kind in (TRUE, FALSE) else kind
        if 0 < field_id - last <= 15:
            out.append((field_id - last) << 4 | wire)
        else:
            out.append(wire)
            out += _encode_varint(_zigzag(field_id) & 0xFFFF)
        if kind not in (TRUE, FALSE):
            out += _write_value(kind, value)
        last = field_id
    out.append(STOP)
    return bytes(out)


def _write_value(kind: int, value: Any) -> bytes:
    if kind == BYTE or kind in (TRUE, FALSE):
        return bytes([value])
    if kind in (I16, I32, I64):
        return _encode_varint(_zigzag(value) & 0xFFFFFFFFFFFFFFFF)
    if kind == DOUBLE:
        return bytes(value)
    if kind == BINARY:
        return _encode_varint(len(value)) + bytes(value)
    if kind in (LIST, SET):
        element, items = value
        header = bytes([len(items) << 4 | element]) if len(items) < 15 else bytes([0xF0 | element])
        size = b"" if len(items) < 15 else _encode_varint(len(items))
        return header + size + b"".join(_write_value(element, item) for item in items)
    if kind == MAP:
        key_kind, value_kind, pairs = value
        if not pairs:
            return b"\x00"
        body = b"".join(_write_value(key_kind, k) + _write_value(value_kind, v) for k, v in pairs)
        return _encode_varint(len(pairs)) + bytes([key_kind << 4 | value_kind]) + body
    if kind == STRUCT:
        return _write_struct(value)
    raise CannotAppend(f"a footer with an unknown Thrift type {kind}")
