"""The model's noise nodes made inputs by editing protobuf bytes, held to what the onnx package makes.

onnx is a test dependency only: it reads the edited model back, checks it, and makes the same
edit its own way, with its helpers, for comparison.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from voiceguide.speech.engines import get_engine
from voiceguide.speech.engines.base import pick_voice
from voiceguide.speech.engines.piper import BUNDLED
from voiceguide.speech.engines.piper_noise import NotAModel, write_edited


def edited(model: bytes | Path, tmp_path: Path, into_memory: bool = False) -> tuple[bytes, tuple[str, ...]]:
    """The edit written to a file (copied by the kernel) or to memory (copied by blocks)."""
    if isinstance(model, bytes):
        (tmp_path / "model.onnx").write_bytes(model)
        model = tmp_path / "model.onnx"
    with model.open("rb") as source:
        if into_memory:
            memory = io.BytesIO()
            names = write_edited(source, memory)
            return memory.getvalue(), names
        with (tmp_path / "edited.onnx").open("wb") as out:
            names = write_edited(source, out)
    return (tmp_path / "edited.onnx").read_bytes(), names


def reference_edit(model: Any) -> None:
    """The edit made with onnx's helpers, node for node as piper_noise documents it."""
    graph = model.graph
    nodes: list[Any] = []
    count = 0
    for node in graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        noise, source, out = f"noise_{count}", node.input[0], node.output[0]
        count += 1
        graph.input.append(helper.make_tensor_value_info(noise, TensorProto.FLOAT, ["noise_length"]))
        graph.initializer.extend(
            [
                numpy_helper.from_array(np.array([0], np.int64), f"{noise}_zero"),
                numpy_helper.from_array(np.array([1], np.int64), f"{noise}_one"),
            ]
        )
        standard = f"{noise}_standard"
        nodes += [
            helper.make_node("Size", [source], [f"{noise}_size"]),
            helper.make_node("Reshape", [f"{noise}_size", f"{noise}_one"], [f"{noise}_end"]),
            helper.make_node("Slice", [noise, f"{noise}_zero", f"{noise}_end"], [f"{noise}_flat"]),
            helper.make_node("Shape", [source], [f"{noise}_shape"]),
            helper.make_node("Reshape", [f"{noise}_flat", f"{noise}_shape"], [standard]),
        ]
        mean, scale = float(attributes.get("mean", 0.0)), float(attributes.get("scale", 1.0))
        if (mean, scale) == (0.0, 1.0):
            nodes.append(helper.make_node("Identity", [standard], [out]))
        else:
            graph.initializer.extend(
                [
                    numpy_helper.from_array(np.array(scale, np.float32), f"{noise}_scale"),
                    numpy_helper.from_array(np.array(mean, np.float32), f"{noise}_mean"),
                ]
            )
            nodes.append(helper.make_node("Mul", [standard, f"{noise}_scale"], [f"{noise}_scaled"]))
            nodes.append(helper.make_node("Add", [f"{noise}_scaled", f"{noise}_mean"], [out]))
    del graph.node[:]
    graph.node.extend(nodes)


def serialized(items: Any) -> list[bytes]:
    return [item.SerializeToString() for item in items]


def tiny_model(mean: float, scale: float) -> bytes:
    """y = RandomNormalLike(x) + x, with the given mean and scale."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    nodes = [
        helper.make_node("RandomNormalLike", ["x"], ["r"], mean=mean, scale=scale, dtype=TensorProto.FLOAT),
        helper.make_node("Add", ["r", "x"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "tiny", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="test")
    model.ir_version = 8
    return bytes(model.SerializeToString())


@pytest.fixture(scope="module")
def bundled() -> Path:
    model = pick_voice(get_engine("piper"), BUNDLED, "en").model
    assert model is not None
    return model


@pytest.mark.parametrize(("into_memory", "pread"), [(False, True), (True, True), (False, False)])
def test_the_bundled_voice_is_edited_as_onnx_would(
    bundled: Path, into_memory: bool, pread: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same nodes in the same order, same inputs, same initializers; everything else the model's own.
    Written to a file (copied by the kernel), to memory, and as on Windows (no pread, no kernel copy)."""
    if not pread:
        monkeypatch.delattr(os, "pread")
        monkeypatch.delattr(os, "copy_file_range")
    original = bundled.read_bytes()
    ours, names = edited(bundled, tmp_path, into_memory)
    assert names == ("noise_0", "noise_1")
    got = onnx.load_model_from_string(ours)
    onnx.checker.check_model(got)
    expected = onnx.load_model_from_string(original)
    reference_edit(expected)
    assert serialized(got.graph.node) == serialized(expected.graph.node)
    assert serialized(got.graph.input) == serialized(expected.graph.input)
    assert sorted(serialized(got.graph.initializer)) == sorted(serialized(expected.graph.initializer))
    for part in (got, expected):  # the rest of the model and of its graph, compared whole
        del part.graph.node[:], part.graph.input[:], part.graph.initializer[:]
    assert got.SerializeToString() == expected.SerializeToString()


@pytest.mark.parametrize(("mean", "scale"), [(0.0, 1.0), (2.0, 3.0), (-0.5, 0.25)])
def test_a_node_reads_its_noise_in_its_own_distribution(mean: float, scale: float, tmp_path: Path) -> None:
    """Run on onnxruntime: the node's output is mean + scale * the first Size(x) noise values, in x's shape."""
    model, names = edited(tiny_model(mean, scale), tmp_path)
    assert names == ("noise_0",)
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    noise = np.random.default_rng(1).standard_normal(50, dtype=np.float32)
    (y,) = session.run(None, {"x": x, "noise_0": noise})
    np.testing.assert_allclose(y, mean + scale * noise[:6].reshape(2, 3) + x, rtol=1e-6)


def test_a_model_without_noise_is_unchanged(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "plain", [x], [x])
    original = bytes(helper.make_model(graph).SerializeToString())
    assert edited(original, tmp_path) == (original, ())


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda model: model[:100_000], "it is cut short or damaged"),
        (lambda _: b"", "it has no graph"),
        (lambda _: b"not an onnx model at all, just text\n", "wire type"),
        (lambda _: b"\x08\x07", "it has no graph"),  # only an ir_version
        (lambda model: model + model, "it has more than one graph"),
    ],
)
def test_files_that_are_no_model_are_refused_with_the_reason(
    damage: Any, message: str, bundled: Path, tmp_path: Path
) -> None:
    with pytest.raises(NotAModel, match=message):
        edited(damage(bundled.read_bytes()), tmp_path)
