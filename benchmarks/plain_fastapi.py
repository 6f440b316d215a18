"""The serving benchmark's baseline: a plain FastAPI endpoint, one model call per request, no batching.

    PLAIN_MODEL=path/to/model.ember uvicorn benchmarks.plain_fastapi:app --port 8001

It speaks the same KServe v2 JSON as `ember serve` (first input only), so one load generator drives both.
The endpoint is a plain `def`, which FastAPI runs on its thread pool — the usual way such servers are written.
"""

from __future__ import annotations

import os

import numpy as np
from fastapi import FastAPI

import ember

app = FastAPI()
PROGRAM = ember.export.load(os.environ["PLAIN_MODEL"])
_DT = {"FP32": np.float32, "INT64": np.int64}


@app.post("/v2/models/{name}/infer")
def infer(name: str, body: dict):
    inp = body["inputs"][0]
    x = np.asarray(inp["data"], dtype=_DT[inp["datatype"]]).reshape(inp["shape"])
    out = PROGRAM.run_flat(x)[0].detach().numpy()
    return {
        "model_name": name,
        "outputs": [
            {"name": "output", "datatype": "FP32", "shape": list(out.shape), "data": out.reshape(-1).tolist()}
        ],
    }
