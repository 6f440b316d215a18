"""ember.serve.generation (step-batched text generation) and the OpenAI-compatible /v1 routes."""

import asyncio
import json
import re
import warnings

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect

import ember
from ember.models import GPT, GPTConfig
from ember.serve.generation import CharCodec, GenerationEngine, GenerationError, sample_token
from ember.serve.openai_routes import routes

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's testclient warns about httpx vs httpx2 on import
    from starlette.testclient import TestClient

CHARS = "abcdefghijklmnopqrstuvwxyz ,.!\n"
BLOCK = 32


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    ember.manual_seed(1)
    m = GPT(GPTConfig(block_size=BLOCK, vocab_size=len(CHARS), n_layer=1, n_head=2, n_embd=16)).eval()
    with ember.no_grad():  # larger weights than the init: varied greedy text, a spread-out distribution
        m.transformer.wte.weight.normal_(0, 1.0)
        m.transformer.wpe.weight.normal_(0, 1.0)
        m.lm_head.weight.normal_(0, 0.25)
    path = tmp_path_factory.mktemp("gpt") / "gpt.ember"
    ember.export.save(
        m,
        path,
        (ember.zeros(1, 4, dtype=ember.int64),),
        dynamic_axes={"idx": {0: "batch", 1: "seq"}},
        extra_files={"vocab.json": json.dumps({"chars": CHARS})},
        metadata={"model": "gpt", "config": {"block_size": BLOCK}},
        output_names=["logits"],
    )
    return ember.export.load(path)


def make_engine(program, **kw):
    return GenerationEngine.from_program(program, **kw)


def last_logits(program, ids):
    out = program.run_flat(np.array([ids[-BLOCK:]], dtype=np.int64))[0]
    return out.numpy()[0, -1]


def reference(program, prompt, n, *, temperature=0.0, top_p=1.0, seed=None):
    """The hand-rolled loop: one program call per token, one request at a time."""
    codec = CharCodec(CHARS)
    ids = codec.encode(prompt)
    rng = np.random.Generator(np.random.PCG64(seed))
    out = []
    for _ in range(n):
        tok = sample_token(last_logits(program, ids), temperature, top_p, rng)
        ids.append(tok)
        out.append(tok)
    return codec.decode(out)


async def collect(gen):
    return [item async for item in gen]


def run(coro):
    return asyncio.run(coro)


def text_of(items):
    return "".join(p for p, _ in items)


# ---------------------------------------------------------------------------------------------- codec


def test_codec_round_trip_and_errors(program):
    codec = CharCodec.from_program(program)
    assert codec.vocab_size == len(CHARS)
    assert codec.encode("abc, !") == [0, 1, 2, 27, 26, 29]
    assert codec.decode(codec.encode("hello, world!\n".replace("w", "o").replace("r", "l"))) == (
        "hello, oolld!\n"
    )
    assert codec.decode([0, 99]) == "a\ufffd"
    with pytest.raises(GenerationError, match="character 'Z' is not in the model's vocabulary") as e:
        codec.encode("abZ")
    assert e.value.status == 400
    assert CharCodec("abca").encode("a") == [0]  # repeated characters encode to the first id
    assert CharCodec.from_extra_files({"vocab.json": '{"chars": "xy"}'}).encode("yx") == [1, 0]
    with pytest.raises(GenerationError, match="no vocab.json") as e:
        CharCodec.from_extra_files({})
    assert e.value.status == 400
    with pytest.raises(GenerationError, match="malformed"):
        CharCodec.from_extra_files({"vocab.json": b"{}"})


def test_from_program_reads_block_size(program):
    eng = make_engine(program, max_batch_size=4)
    assert eng.block_size == BLOCK and eng.max_batch_size == 4 and eng.codec.chars == CHARS

    class Bare:
        extra_files = {"vocab.json": '{"chars": "ab"}'}
        metadata = {}

    with pytest.raises(GenerationError, match="block_size"):
        GenerationEngine.from_program(Bare())


# -------------------------------------------------------------------------------------------- sampling


def test_sample_token_greedy_and_nucleus():
    rng = np.random.Generator(np.random.PCG64(0))
    logits = np.array([0.1, 2.0, 1.9, -5.0, 2.0])
    assert sample_token(logits, 0.0, 1.0, rng) == 1  # argmax: the first of the tied maxima
    assert all(sample_token(logits, 1.0, 1e-9, rng) == 1 for _ in range(50))  # tiny top_p == greedy
    assert all(sample_token(logits, 1e-6, 1.0, rng) in (1, 4) for _ in range(50))  # tiny T: the maxima


def test_sample_token_distribution():
    rng = np.random.Generator(np.random.PCG64(123))
    probs = np.array([0.1, 0.6, 0.3])
    draws = np.array([sample_token(np.log(probs), 1.0, 1.0, rng) for _ in range(4000)])
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 4000, probs, atol=0.03)
    # top_p=0.8 keeps {1, 2} (0.6 + 0.3 >= 0.8) renormalized to 2:1
    draws = np.array([sample_token(np.log(probs), 1.0, 0.8, rng) for _ in range(3000)])
    assert set(draws.tolist()) == {1, 2}
    assert abs((draws == 1).mean() - 2 / 3) < 0.04
    # top_p=0.5 keeps only the most likely token
    assert {sample_token(np.log(probs), 1.0, 0.5, rng) for _ in range(200)} == {1}
    # temperature 2 flattens: p ~ sqrt(probs)
    draws = np.array([sample_token(np.log(probs), 2.0, 1.0, rng) for _ in range(4000)])
    flat = np.sqrt(probs) / np.sqrt(probs).sum()
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 4000, flat, atol=0.03)


# ------------------------------------------------------------------------------------------ the engine


@pytest.mark.parametrize("prompt", ["hello", "a", "abcdefghijklmnop abcdefghijklmnop, ponm!"])
def test_greedy_matches_one_request_at_a_time(program, prompt):
    # the last prompt is longer than block_size: the context is its last 32 tokens
    eng = make_engine(program)
    items = run(collect(eng.generate(prompt, max_tokens=12, temperature=0)))
    assert text_of(items) == reference(program, prompt, 12)
    assert [f for _, f in items] == [None] * (len(items) - 1) + ["length"]
    assert eng.steps == 12 and eng.program_calls == 12 and eng.rows == 12 and eng.tokens == 12


def test_generation_past_block_size(program):
    prompt = "abcdefghijklmnop abcdefghijklm"  # 30 tokens: the window slides after 2 tokens
    eng = make_engine(program)
    assert text_of(run(collect(eng.generate(prompt, max_tokens=10, temperature=0)))) == reference(
        program, prompt, 10
    )


def test_seeded_sampling_reproducible_and_independent_of_other_requests(program):
    want = reference(program, "the cat", 20, temperature=1.0, top_p=0.9, seed=42)

    async def alone():
        eng = make_engine(program)
        return text_of(await collect(eng.generate("the cat", max_tokens=20, top_p=0.9, seed=42)))

    async def crowded():
        eng = make_engine(program, max_batch_size=3)
        others = [
            eng.generate(p, max_tokens=n, temperature=t, seed=s)
            for p, n, t, s in [
                ("the dog", 25, 1.0, 1),
                ("the cow", 20, 0.7, None),
                ("abc", 5, 0, None),
                ("the cab", 30, 1.5, 7),
                ("the cap", 3, 1.0, 42),
            ]
        ]
        mine = eng.generate("the cat", max_tokens=20, temperature=1.0, top_p=0.9, seed=42)
        results = await asyncio.gather(collect(mine), *(collect(g) for g in others))
        assert eng.program_calls > eng.steps  # several groups ran in the steps
        return text_of(results[0])

    assert run(alone()) == want
    assert run(crowded()) == want
    other_seed = run(collect(make_engine(program).generate("the cat", max_tokens=20, seed=43)))
    assert text_of(other_seed) != want


def test_unseeded_sampling_varies(program):
    eng = make_engine(program)
    texts = {text_of(run(collect(eng.generate("the", max_tokens=20)))) for _ in range(4)}
    assert len(texts) > 1


def test_stop_strings(program):
    full = reference(program, "hello", 30)
    stop = full[5:7]
    cut = full.index(stop)
    eng = make_engine(program)
    items = run(collect(eng.generate("hello", max_tokens=30, temperature=0, stop=[stop, "\x00never"])))
    assert text_of(items) == full[:cut] and items[-1][1] == "stop"
    assert all(f is None for _, f in items[:-1])
    # a stop string that never appears: the text is complete, nothing held back
    items = run(collect(eng.generate("hello", max_tokens=30, temperature=0, stop="qqqq")))
    assert text_of(items) == full and items[-1][1] == "length"
    # a stop string right at the start: empty completion
    items = run(collect(eng.generate("hello", max_tokens=30, temperature=0, stop=full[0])))
    assert items == [("", "stop")]
    # empty stop strings are ignored
    assert text_of(run(collect(eng.generate("hello", max_tokens=5, temperature=0, stop=[""])))) == full[:5]


def test_stop_string_is_held_back_until_decided(program):
    full = reference(program, "hello", 30)
    stop = full[10:13] + "\x00"  # its first 3 characters appear but the stop never completes
    eng = make_engine(program)
    pieces = []

    async def go():
        async for piece, fin in eng.generate("hello", max_tokens=30, temperature=0, stop=stop):
            pieces.append((piece, fin))

    run(go())
    assert text_of(pieces) == full and pieces[-1][1] == "length"
    emitted_lengths = np.cumsum([len(p) for p, _ in pieces[:-1]]).tolist()
    assert not {11, 12, 13} & set(emitted_lengths)  # full[10:k] could have become the stop string


def test_max_tokens_zero(program):
    eng = make_engine(program)
    assert run(collect(eng.generate("hello", max_tokens=0))) == [("", "length")]
    assert run(collect(eng.generate("", max_tokens=0))) == [("", "length")]
    assert eng.program_calls == 0 and not eng.running


def test_top_p_tiny_is_greedy(program):
    eng = make_engine(program)
    got = text_of(run(collect(eng.generate("hello", max_tokens=15, temperature=1.3, top_p=1e-9, seed=3))))
    assert got == reference(program, "hello", 15)


@pytest.mark.parametrize(
    "kwargs, param, match",
    [
        ({"max_tokens": -1}, "max_tokens", "non-negative integer"),
        ({"max_tokens": 2.0}, "max_tokens", "non-negative integer"),
        ({"max_tokens": True}, "max_tokens", "non-negative integer"),
        ({"max_tokens": 10**6}, "max_tokens", "at most 4096"),
        ({"temperature": -0.1}, "temperature", ">= 0"),
        ({"temperature": float("nan")}, "temperature", "finite number"),
        ({"temperature": "1"}, "temperature", "finite number"),
        ({"top_p": 0.0}, "top_p", r"\(0, 1\]"),
        ({"top_p": 1.5}, "top_p", r"\(0, 1\]"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
        ({"stop": 3}, "stop", "string or a list"),
        ({"stop": ["a", 3]}, "stop", "string or a list"),
        ({"seed": 1.5}, "seed", "integer"),
        ({"prompt": "zZz"}, "prompt", "character 'Z'"),
        ({"prompt": ""}, "prompt", "at least one"),
        ({"prompt": 5}, "prompt", "must be a string"),
    ],
)
def test_validation_errors(program, kwargs, param, match):
    eng = make_engine(program)
    kwargs = {"prompt": "hello", **kwargs}
    with pytest.raises(GenerationError, match=match) as e:
        eng.generate(kwargs.pop("prompt"), **kwargs)  # raised on the call, before any iteration
    assert e.value.status == 400 and e.value.param == param
    assert eng.steps == 0


def test_negative_and_huge_seeds_are_accepted(program):
    eng = make_engine(program)
    a = text_of(run(collect(eng.generate("ab", max_tokens=6, seed=-5))))
    b = text_of(run(collect(eng.generate("ab", max_tokens=6, seed=-5))))
    c = text_of(run(collect(eng.generate("ab", max_tokens=6, seed=2**200))))
    assert a == b and len(c) == 6


def test_step_batching_equal_lengths_share_one_call(program):
    prompts = ["hello", "world", "abcde", "ponml", "a b c", "!!!!!", "hi, a", "..., "]
    prompts = [p.replace("w", "o").replace("r", "p") for p in prompts]

    async def go(eng):
        return await asyncio.gather(*(collect(eng.generate(p, max_tokens=6, temperature=0)) for p in prompts))

    eng = make_engine(program)
    results = run(go(eng))
    assert eng.steps == 6
    assert eng.program_calls == eng.steps  # one program call per step ...
    assert eng.rows == 8 * eng.steps  # ... holding all 8 requests
    for p, items in zip(prompts, results):
        assert text_of(items) == reference(program, p, 6)
    # max_batch_size splits a group into calls of at most that many rows
    eng = make_engine(program, max_batch_size=3)
    run(go(eng))
    assert eng.steps == 6 and eng.program_calls == 3 * 6 and eng.rows == 8 * 6


def test_mixed_lengths_form_groups(program):
    prompts = ["abc", "cba", "hello", "jello", "hallo", "abcdefg"]

    async def go(eng):
        return await asyncio.gather(*(collect(eng.generate(p, max_tokens=4, temperature=0)) for p in prompts))

    eng = make_engine(program)
    results = run(go(eng))
    assert eng.steps == 4 and eng.program_calls == 3 * 4 and eng.rows == 6 * 4  # lengths 3, 5, 7
    for p, items in zip(prompts, results):
        assert text_of(items) == reference(program, p, 4)


def test_groups_merge_once_contexts_reach_block_size(program):
    long1 = "abcdefghijklmnop abcdefghijklmn"  # 31 tokens
    long2 = "abcdefghijklmnop abcdefghijkl"  # 29 tokens

    async def go(eng):
        return await asyncio.gather(
            collect(eng.generate(long1, max_tokens=6, temperature=0)),
            collect(eng.generate(long2, max_tokens=6, temperature=0)),
        )

    eng = make_engine(program)
    a, b = run(go(eng))
    # steps 1-3: lengths differ (31/29, 32/30, 32/31); steps 4-6: both windows are 32 long
    assert eng.steps == 6 and eng.program_calls == 3 * 2 + 3
    assert text_of(a) == reference(program, long1, 6) and text_of(b) == reference(program, long2, 6)


def test_closing_a_generation_removes_it(program):
    async def go():
        eng = make_engine(program)
        quitter = eng.generate("hello", max_tokens=200, temperature=0)
        stayer = eng.generate("jello", max_tokens=10, temperature=0)
        stay_task = asyncio.ensure_future(collect(stayer))
        got = [await quitter.__anext__(), await quitter.__anext__()]
        assert eng.active == 2
        await quitter.aclose()  # the client went away
        assert eng.active == 1
        stayed = await stay_task
        for _ in range(100):
            if not eng.running:
                break
            await asyncio.sleep(0.01)
        return eng, got, stayed

    eng, got, stayed = run(go())
    assert text_of(got) == reference(program, "hello", 2)
    assert text_of(stayed) == reference(program, "jello", 10)
    assert eng.steps == 10 and eng.rows < 10 + 5  # the quitter ran a step or two, then was dropped
    assert not eng.running and eng._active == []


def test_cancelled_consumer_task_is_removed(program):
    async def go():
        eng = make_engine(program)
        seen = []

        async def consume():
            async for piece, _ in eng.generate("hello", max_tokens=500, temperature=0):
                seen.append(piece)

        task = asyncio.ensure_future(consume())
        while len(seen) < 3:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(200):
            if not eng.running:
                break
            await asyncio.sleep(0.005)
        return eng, seen

    eng, seen = run(go())
    assert not eng.running and eng.active == 0
    assert eng.tokens < 100  # it stopped long before max_tokens


def test_step_loop_starts_lazily_and_restarts(program):
    async def go():
        eng = make_engine(program)
        assert not eng.running
        gen = eng.generate("hi", max_tokens=3, temperature=0)
        assert not eng.running  # nothing runs until the generation is iterated
        first = await collect(gen)
        for _ in range(100):
            if not eng.running:
                break
            await asyncio.sleep(0.001)
        assert not eng.running
        second = await collect(eng.generate("hi", max_tokens=3, temperature=0))
        return first, second

    first, second = run(go())
    assert text_of(first) == text_of(second) == reference(program, "hi", 3)


def test_engine_survives_loops(program):
    eng = make_engine(program)
    a = run(collect(eng.generate("hi", max_tokens=3, temperature=0)))
    b = run(collect(eng.generate("hi", max_tokens=3, temperature=0)))  # a second event loop
    assert a == b


def test_program_failure_fails_the_requests_and_engine_recovers(program):
    class Flaky:
        def __init__(self):
            self.fail = True

        def run_flat(self, idx):
            if self.fail:
                raise RuntimeError("boom")
            return program.run_flat(idx)

    flaky = Flaky()
    eng = GenerationEngine(flaky, CharCodec(CHARS), block_size=BLOCK)
    with pytest.raises(GenerationError, match="model execution failed: RuntimeError: boom") as e:
        run(collect(eng.generate("hi", max_tokens=3, temperature=0)))
    assert e.value.status == 500
    flaky.fail = False
    assert text_of(run(collect(eng.generate("hi", max_tokens=3, temperature=0)))) == reference(
        program, "hi", 3
    )


def test_close_fails_pending_requests(program):
    async def go():
        eng = make_engine(program)
        gen = eng.generate("hi", max_tokens=500, temperature=0)
        await gen.__anext__()
        await eng.close()
        assert not eng.running
        with pytest.raises(GenerationError, match="stopped") as e:
            async for _ in gen:
                pass
        return e.value.status

    assert run(go()) == 503


def test_generation_counts_tokens(program):
    async def go():
        eng = make_engine(program)
        gen = eng.generate("hello", max_tokens=7, temperature=0)
        items = await collect(gen)
        return gen, items

    gen, items = run(go())
    assert gen.prompt_tokens == 5 and gen.completion_tokens == 7 and gen.finish_reason == "length"
    assert len(text_of(items)) == 7


# ------------------------------------------------------------------------------------------ the routes


@pytest.fixture
def served(program):
    engines = {"tiny": make_engine(program)}
    app = Starlette(routes=routes)

    def resolve(name):
        return engines[name]

    app.state.resolve_generator = resolve
    app.state.list_generators = lambda: sorted(engines)
    with TestClient(app) as client:
        yield client, engines["tiny"], app


def sse_events(text):
    assert text.endswith("data: [DONE]\n\n")
    events = []
    for block in text.split("\n\n"):
        if not block:
            continue
        assert block.startswith("data: ")
        payload = block[len("data: ") :]
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def test_route_completion(served, program):
    client, eng, _ = served
    r = client.post(
        "/v1/completions", json={"model": "tiny", "prompt": "hello", "max_tokens": 9, "temperature": 0}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"].startswith("cmpl-") and len(body["id"]) > 10
    assert (
        body["object"] == "text_completion" and body["model"] == "tiny" and isinstance(body["created"], int)
    )
    assert body["choices"] == [
        {"text": reference(program, "hello", 9), "index": 0, "logprobs": None, "finish_reason": "length"}
    ]
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}
    # a one-string list prompt, stop, echo, seed
    full = reference(program, "hello", 20)
    r = client.post(
        "/v1/completions",
        json={
            "model": "tiny",
            "prompt": ["hello"],
            "max_tokens": 20,
            "temperature": 0,
            "stop": full[4:6],
            "echo": True,
            "n": 1,
        },
    )
    choice = r.json()["choices"][0]
    assert choice["text"] == "hello" + full[: full.index(full[4:6])] and choice["finish_reason"] == "stop"
    seeded = {"model": "tiny", "prompt": "ab", "max_tokens": 12, "seed": 9, "top_p": 0.95, "temperature": 0.8}
    t1 = client.post("/v1/completions", json=seeded).json()["choices"][0]["text"]
    t2 = client.post("/v1/completions", json=seeded).json()["choices"][0]["text"]
    assert t1 == t2 == reference(program, "ab", 12, temperature=0.8, top_p=0.95, seed=9)


def test_route_defaults(served):
    client, eng, _ = served
    r = client.post("/v1/completions", json={"model": "tiny", "prompt": "hello"})
    body = r.json()
    assert body["usage"]["completion_tokens"] == 16 and len(body["choices"][0]["text"]) == 16
    r = client.post(
        "/v1/completions",
        json={
            "model": "tiny",
            "prompt": "hello",
            "max_tokens": None,
            "temperature": None,
            "stop": None,
            "seed": None,
        },
    )
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 16


def test_route_streaming(served, program):
    client, eng, _ = served
    req = {"model": "tiny", "prompt": "hello", "max_tokens": 10, "temperature": 0, "stream": True}
    r = client.post("/v1/completions", json=req)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert len(chunks) == 10
    assert "".join(c["choices"][0]["text"] for c in chunks) == reference(program, "hello", 10)
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None] * 9 + ["length"]
    assert len({c["id"] for c in chunks}) == 1 and all(c["object"] == "text_completion" for c in chunks)
    assert all(c["model"] == "tiny" and c["choices"][0]["index"] == 0 for c in chunks)
    # stream_options.include_usage: a last chunk with empty choices and the usage
    r = client.post("/v1/completions", json={**req, "stream_options": {"include_usage": True}})
    events = sse_events(r.text)
    assert events[-2]["choices"] == [] and events[-2]["usage"]["total_tokens"] == 15
    # a stop string: the last chunk may carry no text but carries the finish_reason
    full = reference(program, "hello", 10)
    r = client.post("/v1/completions", json={**req, "stop": full[3]})
    chunks = sse_events(r.text)[:-1]
    assert "".join(c["choices"][0]["text"] for c in chunks) == full[: full.index(full[3])]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_route_list_models(served):
    client, _, _ = served
    body = client.get("/v1/models").json()
    assert body["object"] == "list"
    assert [(m["id"], m["object"], m["owned_by"]) for m in body["data"]] == [("tiny", "model", "ember")]
    assert isinstance(body["data"][0]["created"], int)


def test_route_async_resolvers(served, program):
    client, eng, app = served

    async def resolve(name):
        return eng

    async def names():
        return ["a", "b"]

    app.state.resolve_generator, app.state.list_generators = resolve, names
    r = client.post(
        "/v1/completions", json={"model": "any", "prompt": "hi", "max_tokens": 3, "temperature": 0}
    )
    assert r.json()["choices"][0]["text"] == reference(program, "hi", 3)
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["a", "b"]


def test_route_unknown_model(served):
    client, _, _ = served
    r = client.post("/v1/completions", json={"model": "nope", "prompt": "hi"})
    assert r.status_code == 404
    err = r.json()["error"]
    assert (
        err["code"] == "model_not_found"
        and err["type"] == "invalid_request_error"
        and "nope" in err["message"]
    )


@pytest.mark.parametrize(
    "body, param, match",
    [
        (b"{not json", None, "not valid JSON"),
        (b"[1, 2]", None, "JSON object"),
        ({"prompt": "hi"}, "model", "model"),
        ({"model": "tiny"}, "prompt", "prompt must be a string"),
        ({"model": "tiny", "prompt": ["a", "b"]}, "prompt", "got 2"),
        ({"model": "tiny", "prompt": []}, "prompt", "got 0"),
        ({"model": "tiny", "prompt": [1, 2]}, "prompt", "got 2"),
        ({"model": "tiny", "prompt": "hi", "n": 2}, "n", "not supported"),
        ({"model": "tiny", "prompt": "hi", "logprobs": 5}, "logprobs", "not supported"),
        ({"model": "tiny", "prompt": "hi", "stream": "yes"}, "stream", "boolean"),
        ({"model": "tiny", "prompt": "hi", "temperature": -1}, "temperature", ">= 0"),
        ({"model": "tiny", "prompt": "hi", "top_p": 0}, "top_p", "top_p"),
        ({"model": "tiny", "prompt": "hi", "max_tokens": -3}, "max_tokens", "max_tokens"),
        ({"model": "tiny", "prompt": "hi", "stop": ["a"] * 5}, "stop", "at most 4"),
        ({"model": "tiny", "prompt": "hiZ"}, "prompt", "character 'Z' is not in the model's vocabulary"),
        ({"model": "tiny", "prompt": "hi", "stream": True, "top_p": 2}, "top_p", "top_p"),
    ],
)
def test_route_bad_requests(served, body, param, match):
    client, eng, _ = served
    if isinstance(body, bytes):
        r = client.post("/v1/completions", content=body, headers={"content-type": "application/json"})
    else:
        r = client.post("/v1/completions", json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param
    assert re.search(match, err["message"])
    assert eng.steps == 0


def test_route_engine_failure_is_500(served):
    client, _, app = served

    class Broken:
        def run_flat(self, idx):
            raise RuntimeError("kaput")

    app.state.resolve_generator = lambda name: GenerationEngine(Broken(), CharCodec(CHARS), block_size=8)
    r = client.post("/v1/completions", json={"model": "x", "prompt": "hi"})
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
    assert "kaput" in r.json()["error"]["message"]
    r = client.post("/v1/completions", json={"model": "x", "prompt": "hi", "stream": True})
    assert r.status_code == 200  # the headers went out first: the error arrives as an event
    events = [json.loads(b[len("data: ") :]) for b in r.text.split("\n\n") if b]
    assert "kaput" in events[-1]["error"]["message"]


@pytest.mark.parametrize("spec_version", ["2.3", "2.4"])
def test_route_stream_client_disconnect_cancels_generation(program, spec_version):
    # Starlette listens for http.disconnect under ASGI spec 2.3; under 2.4 a send to a gone client raises OSError.
    eng = make_engine(program)
    app = Starlette(routes=routes)
    app.state.resolve_generator = lambda name: eng
    app.state.list_generators = lambda: ["tiny"]
    body = json.dumps(
        {"model": "tiny", "prompt": "hello", "max_tokens": 1000, "temperature": 0, "stream": True}
    )

    async def go():
        gone = asyncio.Event()
        chunks = []
        sent_body = False

        async def receive():
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body.encode(), "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if gone.is_set() and spec_version == "2.4":
                raise OSError("client gone")
            if message["type"] == "http.response.body" and message.get("body"):
                chunks.append(message["body"])
                if len(chunks) == 3:
                    gone.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": spec_version},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/completions",
            "raw_path": b"/v1/completions",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1),
            "server": ("testserver", 80),
            "state": {},
        }
        try:
            await asyncio.wait_for(app(scope, receive, send), timeout=10)
        except ClientDisconnect:
            pass
        for _ in range(200):
            if not eng.running:
                break
            await asyncio.sleep(0.005)
        return chunks

    chunks = run(go())
    assert len(chunks) >= 3
    assert not eng.running and eng.active == 0 and eng._active == []
    assert eng.tokens < 100  # far fewer than the 1000 asked for
