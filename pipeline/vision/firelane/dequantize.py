"""Run a dynamically quantized (int8) YOLO export in float: the same weights, a faster path on most CPUs.

`onnxruntime.quantization.quantize_dynamic` stores int8 weights and rewrites every convolution as
`DynamicQuantizeLinear(x) -> ConvInteger(x_q, W_q) -> Cast -> Mul(x_scale * w_scale)`. ONNX Runtime's
`ConvInteger` is slower than a float convolution, and the per-layer activation quantization costs time as
well. On an AVX2-only EPYC (2026-11-25) yolov8n int8 at 640 took ~205 ms, the same weights in float ~155 ms;
at 320 ~95 ms against ~40 ms. On an EPYC with AVX-512 VNNI (2026-12-01), where int8 dot products were expected
to win, the float path still did: 28 ms against 34 at 640, 7.7 ms against 50 at 320 (medians of 30 runs,
2 threads). So "auto" computes a dynamic-int8 file in float on every CPU; "model" runs the graph as stored.

The rewrite dequantizes each weight tensor once, exactly as the int8 graph would use it
(`(W_q - zero_point) * scale`, per tensor or per output channel), and replaces the chain with one
`Conv` on the float activation. Scores move by a few hundredths at most (the activations are no
longer rounded to 8 bits), so it is the int8 model's accuracy or better. The file on disk is never
changed: the rewritten graph lives in memory only.
"""
from __future__ import annotations

import os
import logging

import numpy as np
import onnx
from onnx import helper, numpy_helper

log = logging.getLogger(__name__)

def is_dynamic_int8(model: onnx.ModelProto) -> bool:
    return any(node.op_type == "ConvInteger" for node in model.graph.node)


def dequantize_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of `model` with every dynamic-int8 convolution chain replaced by a float `Conv`.

    Raises ValueError when a ConvInteger is not in the layout `quantize_dynamic` writes (the caller
    then runs the file as it is).
    """
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    weights = {init.name: init for init in graph.initializer}
    replaced: dict[int, onnx.NodeProto] = {}
    dropped: set[int] = set()
    for node in graph.node:
        if node.op_type != "ConvInteger":
            continue
        conv, chain = _float_conv(node, producer, consumers, weights, graph)
        replaced[id(node)] = conv
        dropped.update(id(n) for n in chain)
    nodes = [replaced.get(id(node), node) for node in graph.node if id(node) not in dropped]
    _keep_only_reachable(graph, nodes)
    return model


def _float_conv(node, producer, consumers, weights, graph) -> tuple[onnx.NodeProto, list[onnx.NodeProto]]:
    """The float Conv for one ConvInteger, and the Cast and Mul nodes it makes redundant."""
    quantize = producer.get(node.input[0])
    casts = consumers.get(node.output[0], [])
    if quantize is None or quantize.op_type != "DynamicQuantizeLinear" or len(casts) != 1 or casts[0].op_type != "Cast":
        raise ValueError(f"{node.name}: not the DynamicQuantizeLinear -> ConvInteger -> Cast layout")
    muls = consumers.get(casts[0].output[0], [])
    if len(muls) != 1 or muls[0].op_type != "Mul":
        raise ValueError(f"{node.name}: the rescaling Mul is missing")
    scales = next((producer[name] for name in muls[0].input if name in producer and name != casts[0].output[0]), None)
    weight_scale = next((name for name in (scales.input if scales is not None else ()) if name in weights), None)
    if node.input[1] not in weights or weight_scale is None:
        raise ValueError(f"{node.name}: weights or their scale are not constants")
    w_q = numpy_helper.to_array(weights[node.input[1]]).astype(np.float32)
    zero = (numpy_helper.to_array(weights[node.input[3]]).astype(np.float32)
            if len(node.input) > 3 and node.input[3] in weights else np.float32(0))
    scale = numpy_helper.to_array(weights[weight_scale]).astype(np.float32)
    per_channel = (-1,) + (1,) * (w_q.ndim - 1)
    w = (w_q - (zero.reshape(per_channel) if zero.ndim else zero)) * (scale.reshape(per_channel) if scale.ndim else scale)
    name = f"{node.input[1]}_float"
    graph.initializer.append(numpy_helper.from_array(w.astype(np.float32), name))
    conv = helper.make_node("Conv", [quantize.input[0], name], [muls[0].output[0]], name=f"{node.name}_float")
    conv.attribute.extend(node.attribute)
    return conv, [casts[0], muls[0]]


def _keep_only_reachable(graph: onnx.GraphProto, nodes: list[onnx.NodeProto]) -> None:
    """Drop nodes and initializers no graph output depends on any more (quantizers, scale products)."""
    needed = {out.name for out in graph.output}
    kept = []
    for node in reversed(nodes):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(node.input)
    kept.reverse()
    del graph.node[:]
    graph.node.extend(kept)
    live = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(live)


def session_source(path: str | os.PathLike, compute: str) -> tuple[str | bytes, str]:
    """What to give `onnxruntime.InferenceSession` for `path` under `compute`, and how it will compute.

    compute: "auto" (float for a dynamic-int8 file where the rewrite applies, else as stored: see the module
    doc for why not by CPU), "float" (always rewrite a dynamic-int8 file), "model" (run the file as it is).
    """
    if compute not in ("auto", "float", "model"):
        raise ValueError(f"detector compute must be auto, float or model, not {compute!r}")
    if compute == "model":
        return str(path), "as stored"
    model = onnx.load(str(path))
    if not is_dynamic_int8(model):
        return str(path), "as stored"
    try:
        return dequantize_dynamic(model).SerializeToString(), "int8 weights computed in float"
    except ValueError as error:
        if compute == "float":
            raise
        log.warning("%s: running the int8 graph as stored (%s)", path, error)
        return str(path), "as stored"
