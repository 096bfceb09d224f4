#!/usr/bin/env python3
"""Writes a synthetic sessions trace (kvtier-replay --format sessions) with
heavy prefix reuse under a stream of one-shot prompts: the second trace the
policy comparison in bench/RESULTS.md uses, since only one real trace is
available. Deterministic for a given --seed.

Traffic: 200 shared documents (system prompts, RAG contexts) of 8-48 blocks
with Zipf(1.1) popularity; each request is either a document plus 1-4 new
question blocks (60%) or a one-shot prompt of 4-40 never-seen blocks (40%).
Usage: synth_sessions.py OUT.json [--requests N] [--seed S]
"""
import argparse
import json
import random


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rng = random.Random(a.seed)
    next_id = 0

    def fresh(n):
        nonlocal next_id
        ids = list(range(next_id, next_id + n))
        next_id += n
        return ids

    docs = [fresh(rng.randint(8, 48)) for _ in range(200)]
    weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(docs))]
    requests = []
    for _ in range(a.requests):
        if rng.random() < 0.6:
            doc = rng.choices(docs, weights)[0]
            ids = doc + fresh(rng.randint(1, 4))
        else:
            ids = fresh(rng.randint(4, 40))
        requests.append({"hash_ids": ids})
    with open(a.out, "w") as f:
        json.dump({"block_size": 512, "requests": requests}, f)


if __name__ == "__main__":
    main()
