"""Runs a generated main.py's UDFs outside Ray, for TestScriptUDFsRun.

ray, onnxruntime and pyarrow are replaced by stubs (a cluster's packages are
not installable here); numpy and Pillow are real, so the preprocessing recipe
really runs. Prints one JSON object with what the Go test checks.
"""
import importlib.util
import json
import sys
import types

import numpy as np
from PIL import Image

sys.modules["ray"] = types.ModuleType("ray")

ort = types.ModuleType("onnxruntime")


class FakeSession:
    loads = 0
    runs = 0

    def __init__(self, model, providers=None):
        FakeSession.loads += 1
        self.providers = providers

    def get_inputs(self):
        return [types.SimpleNamespace(name="input")]

    def run(self, outputs, feeds):
        FakeSession.runs += 1
        x = feeds["input"]
        assert x.dtype == np.float32 and x.ndim == 4, (x.dtype, x.shape)
        # Class 3 wins, class 7 is second, the rest tie at 0.
        logits = np.zeros((x.shape[0], 10), np.float32)
        logits[:, 3] = 4.0
        logits[:, 7] = 2.0
        return [logits]


ort.InferenceSession = FakeSession
sys.modules["onnxruntime"] = ort

pa = types.ModuleType("pyarrow")
pa.string = lambda: "string"
pa.int32 = lambda: "int32"
pa.float32 = lambda: "float32"
pa.list_ = lambda t: ["list", t]
pa.schema = lambda fields: list(fields)
pa.array = lambda values, type=None: list(values)
pa.table = lambda columns, schema=None: columns
pa.Table = dict
pa.fs = types.ModuleType("pyarrow.fs")


class FakeStream:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self):
        return b"model bytes"


class FakeFileSystem:
    @staticmethod
    def from_uri(uri):
        assert "://" in uri, uri
        return FakeFileSystem(), uri.split("://", 1)[1]

    def open_input_stream(self, path):
        return FakeStream()


pa.fs.FileSystem = FakeFileSystem
sys.modules["pyarrow"] = pa
sys.modules["pyarrow.fs"] = pa.fs

spec = importlib.util.spec_from_file_location("job", sys.argv[1])
job = importlib.util.module_from_spec(spec)
spec.loader.exec_module(job)

# A 300x400 gradient: the short side is the height.
h, w = 300, 400
yy, xx = np.mgrid[0:h, 0:w]
img = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)

# The recipe computed directly, to check the script's table-driven version.
nh, nw = 256, int(256 * w / h)
ref = np.asarray(Image.fromarray(img).resize((nw, nh), Image.Resampling.BILINEAR), np.float32)
top, left = int(round((nh - 224) / 2)), int(round((nw - 224) / 2))
ref = ref[top : top + 224, left : left + 224] / np.float32(255)
ref = ((ref - job.MEAN) / job.STD).transpose(2, 0, 1)
got = job.Transform()(img)

bad = np.zeros((0, 0, 3), np.uint8)  # fails to resize: division by zero
batch = {"path": np.array(["a.jpg", "b.jpg"]), "image": np.array([img, bad], dtype=object)}


def preprocess(batch):
    if hasattr(job, "preprocess"):
        return job.preprocess(batch)
    if hasattr(job, "preprocess_row"):
        rows = [
            job.preprocess_row({"path": p, "image": i})
            for p, i in zip(batch["path"], batch["image"])
        ]
        return {
            "path": np.array([r["path"] for r in rows]),
            "image": np.stack([r["image"] for r in rows]),
            "error": np.array([r["error"] for r in rows]),
        }
    return batch  # preprocess-in-actor: the inference stage preprocesses


loads_before = FakeSession.loads
udf = job.Predictor() if hasattr(job, "Predictor") else job.predict
out = [udf(preprocess(batch)) for _ in range(2)]
print(
    json.dumps(
        {
            "shape": list(got.shape),
            "dtype": str(got.dtype),
            "max_abs_diff": float(np.abs(got - ref).max()),
            "loads_for_two_batches": FakeSession.loads - loads_before,
            "runs_for_two_batches": FakeSession.runs,
            "predicted_class": out[0]["predicted_class"],
            "top5": out[0]["top5"],
            "confidence": out[0]["confidence"],
            "error": out[0]["error"],
            "path": out[0]["path"],
        }
    )
)
