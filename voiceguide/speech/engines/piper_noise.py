"""A Piper model's noise nodes made into inputs, by editing the ONNX file's protobuf bytes.

Every ``RandomNormalLike(X)`` node becomes ``Reshape(Slice(noise_i, 0, Size(X)), Shape(X))``
(scaled and shifted when the node asks for another mean or scale), reading a new float input
``noise_i`` of any length (see ``piper_model`` for why). The edit works on the wire format
directly: the graph's nodes are read one by one, and everything else, the weights above all
(nearly all of the file's bytes), is copied as it is, by the kernel where it can. Parsing and
re-serialising the whole model with the ``onnx`` package cost about 0.8 s on a first run (0.5 s
of it importing ``onnx``) and held the model three times over; this costs a few hundredths of a
second, holds none of the weights and needs no package.

Protobuf field numbers are those of onnx/onnx.proto (ModelProto, GraphProto, NodeProto,
AttributeProto, ValueInfoProto, TypeProto, TensorShapeProto, TensorProto).
"""

from __future__ import annotations

import errno
import io
import os
import struct
from collections.abc import Callable, Iterator
from typing import BinaryIO

from voiceguide.files import read_at

_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_INPUT = 1, 5, 11
_NODE_INPUT, _NODE_OUTPUT, _NODE_OP_TYPE, _NODE_ATTRIBUTE = 1, 2, 4, 5
_ATTRIBUTE_NAME, _ATTRIBUTE_F = 1, 2
_TENSOR_DIMS, _TENSOR_DATA_TYPE, _TENSOR_NAME, _TENSOR_RAW_DATA = 1, 2, 8, 9
_FLOAT, _INT64 = 1, 7  # TensorProto.DataType
# copy_file_range refused: across file systems, or not offered by this system or file system
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF}


class NotAModel(ValueError):
    """The file is not an ONNX model this edit can read; the message says why."""


Read = Callable[[int, int], bytes]  # (offset, count) -> at most count bytes from offset
Piece = bytes | range  # new bytes, or a range of the model's own bytes, copied as they are


def write_edited(model: BinaryIO, out: BinaryIO) -> tuple[str, ...]:
    """Write the model with its noise nodes as inputs to ``out``; returns the new inputs' names.

    The unchanged ranges, nearly all of the file, are copied by the kernel where it can
    (``copy_file_range``), so the weights are never read into this process."""
    source = model.fileno()
    pieces, names = _edit(lambda at, count: read_at(source, count, at), os.fstat(source).st_size)
    for piece in pieces:
        if isinstance(piece, bytes):
            out.write(piece)
        else:
            _copy(source, out, piece)
    return names


def _edit(read: Read, size: int) -> tuple[list[Piece], tuple[str, ...]]:
    graphs = [field for field in _fields(read, 0, size) if field[0] == _MODEL_GRAPH and field[1] == _LEN]
    if len(graphs) != 1:
        raise NotAModel("it has no graph" if not graphs else "it has more than one graph")
    _, _, graph_start, graph_end, tag_start = graphs[0]
    pieces, names = _graph(read, graph_start, graph_end)
    length = sum(len(piece) for piece in pieces)
    head: list[Piece] = [range(tag_start), _tag(_MODEL_GRAPH, _LEN) + _varint(length)]
    return [*head, *pieces, range(graph_end, size)], names


def _graph(read: Read, start: int, end: int) -> tuple[list[Piece], tuple[str, ...]]:
    pieces: list[Piece] = []
    added: list[bytes] = []
    names: list[str] = []
    copied = start  # the unchanged bytes since the last edit are copied as one range
    for number, wire, value_start, value_end, tag_start in _fields(read, start, end):
        if number != _GRAPH_NODE or wire != _LEN:
            continue
        node = _node(read(value_start, value_end - value_start))
        if node is None:
            continue
        source, out, mean, scale = node
        noise = f"noise_{len(names)}"
        names.append(noise)
        replacement = _replacement(noise, source, out, mean, scale)
        pieces += [range(copied, tag_start), *(_field(_GRAPH_NODE, node) for node in replacement)]
        copied = value_end
        added.append(_field(_GRAPH_INPUT, _float_vector_input(noise)))
        added += [
            _field(_GRAPH_INITIALIZER, _int64_tensor(f"{noise}_zero", 0)),
            _field(_GRAPH_INITIALIZER, _int64_tensor(f"{noise}_one", 1)),
        ]
        if (mean, scale) != (0.0, 1.0):
            added += [
                _field(_GRAPH_INITIALIZER, _float_scalar(f"{noise}_scale", scale)),
                _field(_GRAPH_INITIALIZER, _float_scalar(f"{noise}_mean", mean)),
            ]
    return [*pieces, range(copied, end), *added], tuple(names)


def _node(data: bytes) -> tuple[str, str, float, float] | None:
    """(input, output, mean, scale) of a ``RandomNormalLike`` node; ``None`` for any other node."""
    inputs: list[str] = []
    outputs: list[str] = []
    op_type = ""
    attributes: dict[str, float] = {}
    for number, wire, value_start, value_end, _ in _fields(_in_memory(data), 0, len(data)):
        if wire != _LEN:
            continue
        value = data[value_start:value_end]
        if number == _NODE_OP_TYPE:
            op_type = value.decode("utf-8", "replace")
        elif number == _NODE_INPUT:
            inputs.append(value.decode("utf-8"))
        elif number == _NODE_OUTPUT:
            outputs.append(value.decode("utf-8"))
        elif number == _NODE_ATTRIBUTE:
            attributes.update(_float_attribute(value))
    if op_type != "RandomNormalLike":
        return None
    if len(inputs) != 1 or len(outputs) != 1:
        raise NotAModel("a RandomNormalLike node does not have one input and one output")
    return inputs[0], outputs[0], attributes.get("mean", 0.0), attributes.get("scale", 1.0)


def _float_attribute(data: bytes) -> dict[str, float]:
    name, value = "", None
    for number, wire, value_start, value_end, _ in _fields(_in_memory(data), 0, len(data)):
        if number == _ATTRIBUTE_NAME and wire == _LEN:
            name = data[value_start:value_end].decode("utf-8", "replace")
        elif number == _ATTRIBUTE_F and wire == _FIXED32:
            value = struct.unpack_from("<f", data, value_start)[0]
    return {name: float(value)} if value is not None else {}


def _in_memory(data: bytes) -> Read:
    return lambda at, count: data[at : at + count]


def _copy(source: int, out: BinaryIO, piece: range) -> None:
    """Copy ``piece`` of the file ``source`` to ``out``: in the kernel where it can, else by blocks."""
    at, end = piece.start, piece.stop
    try:
        target = out.fileno()
    except (AttributeError, io.UnsupportedOperation):  # not a file: in memory
        target = None
    if target is not None and hasattr(os, "copy_file_range"):
        out.flush()  # the kernel writes at the file's position: what is buffered goes first
        try:
            while at < end:
                copied = os.copy_file_range(source, target, end - at, at)
                if copied == 0:
                    raise NotAModel("it is cut short or damaged")
                at += copied
        except OSError as err:
            if err.errno not in _NO_KERNEL_COPY:
                raise
    while at < end:
        block = read_at(source, min(end - at, 1 << 20), at)
        if not block:
            raise NotAModel("it is cut short or damaged")
        out.write(block)
        at += len(block)


def _replacement(noise: str, source: str, out: str, mean: float, scale: float) -> list[bytes]:
    """The nodes that read ``noise``'s first Size(source) elements in Shape(source), as NodeProto bytes."""
    standard = f"{noise}_standard"
    nodes = [
        _node_bytes("Size", [source], f"{noise}_size"),
        _node_bytes("Reshape", [f"{noise}_size", f"{noise}_one"], f"{noise}_end"),
        _node_bytes("Slice", [noise, f"{noise}_zero", f"{noise}_end"], f"{noise}_flat"),
        _node_bytes("Shape", [source], f"{noise}_shape"),
        _node_bytes("Reshape", [f"{noise}_flat", f"{noise}_shape"], standard),
    ]
    if (mean, scale) == (0.0, 1.0):
        return [*nodes, _node_bytes("Identity", [standard], out)]
    # the model's own distribution, from our standard normal noise
    return [
        *nodes,
        _node_bytes("Mul", [standard, f"{noise}_scale"], f"{noise}_scaled"),
        _node_bytes("Add", [f"{noise}_scaled", f"{noise}_mean"], out),
    ]


def _node_bytes(op_type: str, inputs: list[str], output: str) -> bytes:
    fields = [_field(_NODE_INPUT, name.encode()) for name in inputs]
    return b"".join([*fields, _field(_NODE_OUTPUT, output.encode()), _field(_NODE_OP_TYPE, op_type.encode())])


def _float_vector_input(name: str) -> bytes:
    """ValueInfoProto: a float tensor of shape ["noise_length"]."""
    dimension = _field(1, _field(2, b"noise_length"))  # TensorShapeProto.dim { dim_param }
    tensor_type = _tag(1, _VARINT) + _varint(_FLOAT) + _field(2, dimension)  # elem_type, shape
    return _field(1, name.encode()) + _field(2, _field(1, tensor_type))  # name, type { tensor_type }


def _int64_tensor(name: str, value: int) -> bytes:
    """TensorProto: the int64 vector [value]."""
    return (
        _tag(_TENSOR_DIMS, _VARINT)
        + _varint(1)
        + _tag(_TENSOR_DATA_TYPE, _VARINT)
        + _varint(_INT64)
        + _field(_TENSOR_NAME, name.encode())
        + _field(_TENSOR_RAW_DATA, struct.pack("<q", value))
    )


def _float_scalar(name: str, value: float) -> bytes:
    """TensorProto: a float scalar (no dims)."""
    return (
        _tag(_TENSOR_DATA_TYPE, _VARINT)
        + _varint(_FLOAT)
        + _field(_TENSOR_NAME, name.encode())
        + _field(_TENSOR_RAW_DATA, struct.pack("<f", value))
    )


def _fields(read: Read, start: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(field number, wire type, value start, value end, tag start) of each field in ``[start, end)``."""
    at = start
    while at < end:
        head = read(at, 20)  # a tag and a length are at most 10 bytes each
        key, used = _read_varint(head)
        number, wire = key >> 3, key & 7
        value_start = at + used
        if wire == _VARINT:
            value_end = value_start + _read_varint(head[used:])[1]
        elif wire == _LEN:
            length, more = _read_varint(head[used:])
            value_start += more
            value_end = value_start + length
        elif wire == _FIXED64:
            value_end = value_start + 8
        elif wire == _FIXED32:
            value_end = value_start + 4
        else:
            raise NotAModel(f"it holds a protobuf field of wire type {wire}, which ONNX does not use")
        if value_end > end or number == 0:
            raise NotAModel("it is cut short or damaged")
        yield number, wire, value_start, value_end, at
        at = value_end


def _read_varint(data: bytes) -> tuple[int, int]:
    """The varint at the start of ``data``, and how many bytes it took."""
    value = 0
    for used, byte in enumerate(data[:10]):
        value |= (byte & 0x7F) << 7 * used
        if byte < 0x80:
            return value, used + 1
    raise NotAModel("it is cut short or damaged")


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _field(number: int, value: bytes) -> bytes:
    """A length-delimited field."""
    return _tag(number, _LEN) + _varint(len(value)) + value
