"""ember.serve: `python -m ember serve --model-repository DIR` — a small Python-first inference server.

Layout (one server process): an ASGI app (Starlette on uvicorn) owns the HTTP front, the per-model-version
dynamic batchers, the versions and the Prometheus metrics; model execution runs on worker threads, off the
event loop. Modules:

- repository.py  Triton-style repository scan (DIR/<model>/<version>/model.ember, config.json), the loaded
                 versions, atomic switch on reload, draining on unload
- batcher.py     dynamic batching per model version (max_batch_size, max_queue_delay_ms, queue limit)
- protocol.py    the Open Inference Protocol (KServe v2) codec: JSON and binary tensor data
- generation.py  OpenAI-compatible /v1/completions for exported GPTs, batched step by step
- metrics.py     prometheus-client metrics
- app.py         the routes; server.py runs uvicorn with graceful shutdown
"""
