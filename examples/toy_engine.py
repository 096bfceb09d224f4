#!/usr/bin/env python3
"""A toy inference engine served by kvtier through each engine adapter, end to end.

The "model" computes a block's KV as a deterministic function of the prompt's
tokens up to that block's end (as a real model's KV depends on every earlier
token), from a running BLAKE2b digest: its KV never depends on how kvtier or
the engines name blocks. Prompts come from the Mooncake conversation trace
(bench/data/mooncake, Apache-2.0): a block with prefix id h holds 512 tokens
drawn from a generator seeded by h, so requests that share prefix ids share
tokens, hence vLLM's and SGLang's block hashes and the model's KV.

Each request runs the engine's own loop through the adapter:
  vllm    kvtier.vllm: OffloadingManager.lookup / prepare_load, the worker's
          OffloadingHandler loading into numpy "GPU" block tensors (one per
          layer and K/V, vLLM's layout), then prepare_store and a GPU->kvtier
          job, complete_store.
  sglang  kvtier.sglang: HiCacheStorage.batch_exists, batch_get_v1 into a
          page_first host pool (numpy), batch_set_v1 of the new pages.
Every block loaded is compared with the model's recomputation; any difference
is reported and makes the exit status 1. The vLLM engine also hands a sampled
share of its hits (--shadow-rate) to kvtier's shadow verification
(Store.shadow_sampled / shadow_verify), which compares them with what it
served and counts divergences per tier. vLLM and SGLang are not installed
here: the adapters run over python/tests/*_standin.py, copies of their
interfaces.

    PYTHONPATH=build/python python3 examples/toy_engine.py --requests 500
"""
import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python", "tests"))  # the stand-ins
import sglang_standin  # noqa: E402

sglang_standin.install()  # SGLang's base class, before kvtier.sglang is imported
import vllm_standin  # noqa: E402

import kvtier  # noqa: E402
from kvtier import vllm as kv_vllm  # noqa: E402
from kvtier.sglang import KvtierHiCacheStorage  # noqa: E402

TRACE = os.path.join(HERE, "..", "bench", "data", "mooncake",
                     "conversation_trace_3000.jsonl")
BLOCK = 512  # tokens per block: the Mooncake trace's
LAYERS, HEADS, DIM = 2, 1, 8
VOCAB = 32000


class ToyModel:
    """KV of every full block of a prompt, shape (2 [K, V], BLOCK, LAYERS,
    HEADS, DIM) float16: a function of the tokens up to the block's end."""

    def __init__(self):
        self.computed_blocks = 0

    def kv(self, tokens, n_blocks):
        digest = hashlib.blake2b(b"toy-model").digest()
        blocks = []
        for i in range(n_blocks):
            piece = np.asarray(tokens[i * BLOCK:(i + 1) * BLOCK], dtype="<u4").tobytes()
            digest = hashlib.blake2b(digest + piece).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            blocks.append(rng.standard_normal((2, BLOCK, LAYERS, HEADS, DIM))
                          .astype(np.float16))
        self.computed_blocks += n_blocks
        return blocks


def read_requests(path, count):
    """(tokens, full blocks) of the first `count` requests of the trace, and
    the block hit rate an infinite cache would give them."""
    requests, seen, ceiling, blocks = [], set(), 0, 0
    with open(path) as f:
        for line in f:
            if len(requests) == count:
                break
            record = json.loads(line)
            ids = record["hash_ids"]
            full = min(record["input_length"] // BLOCK, len(ids))
            tokens = np.concatenate([np.random.default_rng(h).integers(
                0, VOCAB, BLOCK, dtype=np.uint32) for h in ids[:full]] or
                [np.zeros(0, np.uint32)])
            requests.append((tokens, full))
            leading = 0
            while leading < full and ids[leading] in seen:
                leading += 1
            ceiling, blocks = ceiling + leading, blocks + full
            seen.update(ids[:full])
    return requests, ceiling / max(blocks, 1)


class Tally:
    def __init__(self, name):
        self.name = name
        self.blocks = self.hits = self.loaded = self.mismatched = 0
        self.shadow_checked = self.shadow_diverged = 0
        self.seconds = 0.0

    def check(self, got, want, request, block):
        self.loaded += 1
        if not np.array_equal(got, want):
            self.mismatched += 1
            print(f"{self.name}: request {request} block {block}: loaded KV differs "
                  "from the recomputation", file=sys.stderr)

    def report(self):
        rate = self.loaded / self.blocks if self.blocks else 0.0
        print(f"{self.name:6s}: {self.blocks} blocks asked, {self.hits} offered, "
              f"{self.loaded} loaded and verified ({self.mismatched} differ): "
              f"hit rate {rate:.3f}, {self.seconds:.2f} s")
        if self.shadow_checked:
            print(f"        shadow verification: {self.shadow_checked} hits recomputed "
                  f"and compared by kvtier, {self.shadow_diverged} diverged")


def store_options(args, shadow_rate=0.0):
    return {"layout": {"num_layers": LAYERS, "kv_heads": HEADS, "head_dim": DIM,
                       "dtype": "fp16", "block_tokens": BLOCK},
            "model_id": "toy-model@1", "host_capacity_bytes": args.host_bytes,
            "host_lock_memory": False, "shadow": {"sample_rate": shadow_rate}}


# -- vLLM: scheduler-side manager, worker-side handler, "GPU" block tensors --
def vllm_segment_rows(kv):
    """One block's KV as vLLM holds it: a page per (layer, K/V), block-major."""
    return [np.ascontiguousarray(kv[p, :, layer]).view(np.uint8).reshape(-1)
            for layer in range(LAYERS) for p in range(2)]


def finish(handler, job_id):
    handler.wait({job_id})
    for result in handler.get_finished():
        if result.job_id == job_id:
            return result.success
    raise RuntimeError(f"job {job_id} was not reported finished")


def run_vllm(requests, model, args):
    tally = Tally("vllm")
    gpu_blocks = max(full for _, full in requests) or 1
    none_hash = kvtier.vllm_none_hash("0")
    with kvtier.Store(store_options(args, args.shadow_rate)) as store:
        gpu = [np.zeros((gpu_blocks, store.segment_bytes), np.uint8)
               for _ in range(store.segments_per_block)]
        manager = kv_vllm.KvtierOffloadingManager(store, block_size=BLOCK)
        handler = kv_vllm.KvtierOffloadingHandler(store, gpu)
        job = 0
        start = time.monotonic()
        for r, (tokens, full) in enumerate(requests):
            hashes = kvtier.vllm_block_hashes(tokens, BLOCK, none_hash)
            hit = manager.lookup(hashes) or 0  # None (retry) cannot happen serially
            tally.blocks += full
            tally.hits += hit
            loaded = 0
            if hit:
                job += 1
                spec = manager.prepare_load(hashes[:hit])
                ok = handler.transfer_async(job, (spec, vllm_standin.GPULoadStoreSpec(
                    range(hit)))) and finish(handler, job)
                manager.complete_load(hashes[:hit])
                loaded = hit if ok else 0
            want = model.kv(tokens, full)
            for b in range(loaded):
                got = [seg[b] for seg in gpu]
                tally.check(np.concatenate(got), np.concatenate(vllm_segment_rows(want[b])),
                            r, b)
            shadow_verify(store, hashes[:loaded], want, tally)
            for b in range(loaded, full):  # prefill: the engine computes the rest
                for seg, row in zip(gpu, vllm_segment_rows(want[b])):
                    seg[b] = row
            out = manager.prepare_store(hashes)
            if out is not None and out.block_hashes_to_store:
                job += 1
                ids = [hashes.index(h) for h in out.block_hashes_to_store]
                ok = handler.transfer_async(job, (vllm_standin.GPULoadStoreSpec(ids),
                                                  out.store_spec)) and finish(handler, job)
                manager.complete_store(out.block_hashes_to_store, ok)
        tally.seconds = time.monotonic() - start
        handler.shutdown()
        host = store.stats()["host"]
        assert (host["shadow_checked"], host["shadow_diverged"]) == (
            tally.shadow_checked, tally.shadow_diverged)
    return tally


def shadow_verify(store, hashes, want, tally):
    """The blocks of this load kvtier sampled: recomputed (here: the model's
    KV, already at hand) and handed back for kvtier to compare."""
    if not hashes:
        return
    chain = store.engine_key_chain(hashes, profile="vllm")
    for i in store.shadow_sampled(chain):
        recomputed = b"".join(row.tobytes() for row in vllm_segment_rows(want[i]))
        result = store.shadow_verify(chain, i, recomputed)
        tally.shadow_checked += 1
        tally.shadow_diverged += result["diverged"]


# -- SGLang: HiCache storage over a page_first host pool --------------------
class HostPool:
    """SGLang's page_first MHA host pool: kv_buffer (2, tokens, layers, heads,
    dim); get_page_buffer_meta gives the K and V pointers of each page."""

    def __init__(self, pages):
        self.page_size = BLOCK
        self.size = pages * BLOCK
        self.kv_buffer = np.zeros((2, self.size, LAYERS, HEADS, DIM), np.float16)
        self.per_token = LAYERS * HEADS * DIM * 2

    def get_page_buffer_meta(self, indices):
        idx = indices.tolist()
        base, v_offset = self.kv_buffer.ctypes.data, self.size * self.per_token
        ptrs = []
        for i in range(0, len(idx), self.page_size):
            k = base + idx[i] * self.per_token
            ptrs += [k, k + v_offset]
        return ptrs, [self.page_size * self.per_token] * len(ptrs)

    def page(self, slot):
        return self.kv_buffer[:, slot * BLOCK:(slot + 1) * BLOCK]


def token_indices(pages):
    return np.array([p * BLOCK + t for p in pages for t in range(BLOCK)], np.int64)


def run_sglang(requests, model, args):
    tally = Tally("sglang")
    config = sglang_standin.HiCacheStorageConfig(
        tp_rank=0, tp_size=1, pp_rank=0, pp_size=1, attn_cp_rank=0, attn_cp_size=1,
        is_mla_model=False, enable_storage_metrics=False, is_page_first_layout=True,
        model_name="toy-model@1",
        extra_config={"backend_name": "kvtier", "module_path": "kvtier.sglang",
                      "class_name": "KvtierHiCacheStorage", "interface_v1": 1,
                      "kvtier": store_options(args)})
    backend = KvtierHiCacheStorage(config, {})  # as SGLang's factory builds it
    pool = HostPool(max(full for _, full in requests) or 1)
    backend.register_mem_pool_host(pool)
    start = time.monotonic()
    for r, (tokens, full) in enumerate(requests):
        keys = kvtier.sglang_page_hashes(tokens, BLOCK)
        hit = backend.batch_exists(keys)
        tally.blocks += full
        tally.hits += hit
        loaded = 0
        if hit:
            done = backend.batch_get_v1(keys[:hit], token_indices(range(hit)))
            loaded = done.index(False) if False in done else hit
        want = model.kv(tokens, full)
        for b in range(loaded):
            tally.check(pool.page(b), want[b], r, b)
        for b in range(loaded, full):
            pool.page(b)[:] = want[b]
        if loaded < full:
            backend.batch_set_v1(keys[loaded:], token_indices(range(loaded, full)))
    tally.seconds = time.monotonic() - start
    backend.close()
    return tally


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500,
                        help="first requests of the trace to serve (default 500)")
    parser.add_argument("--trace", default=TRACE, help="Mooncake-format JSON lines")
    parser.add_argument("--host-bytes", type=int, default=128 << 20,
                        help="host tier capacity in bytes (default 128 MiB: ~4000 blocks)")
    parser.add_argument("--shadow-rate", type=float, default=0.1,
                        help="share of the vLLM engine's hits verified through kvtier's "
                             "shadow verification (default 0.1)")
    parser.add_argument("--engines", default="vllm,sglang",
                        help="adapters to run, comma-separated (vllm, sglang)")
    args = parser.parse_args()
    engines = {"vllm": run_vllm, "sglang": run_sglang}
    chosen = args.engines.split(",")
    if args.requests < 1 or any(e not in engines for e in chosen):
        parser.error(f"--requests must be >= 1 and --engines among {sorted(engines)}")
    requests, ceiling = read_requests(args.trace, args.requests)
    print(f"{len(requests)} requests of {os.path.relpath(args.trace)}, {BLOCK}-token "
          f"blocks, {args.host_bytes >> 20} MiB host tier; an infinite cache would "
          f"hit {ceiling:.3f} of the blocks")
    tallies = [engines[e](requests, ToyModel(), args) for e in chosen]
    for t in tallies:
        t.report()
    bad = [t for t in tallies if t.mismatched or t.loaded == 0 or t.shadow_diverged]
    if bad:
        print("FAILED: " + ", ".join(f"{t.name} ({t.mismatched} blocks differ, "
                                     f"{t.loaded} loaded, {t.shadow_diverged} shadow "
                                     "divergences)" for t in bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
