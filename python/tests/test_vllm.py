"""kvtier.vllm against stand-ins of vLLM's offloading interfaces
(vllm_standin.py): a fake engine stores blocks from numpy "GPU" tensors,
looks them up, loads them into fresh tensors and compares every byte;
pending transfers make lookup answer retry; failures are failed jobs."""
import inspect
import os
import sys
import tempfile
import time
from dataclasses import fields

import numpy as np
import pytest

import kvtier
from kvtier import vllm as kv

sys.path.insert(0, os.path.dirname(__file__))
import vllm_standin as standin  # noqa: E402
from nvme_files import corrupt_slot_files  # noqa: E402

LAYOUT = dict(num_layers=2, kv_heads=2, head_dim=8, block_tokens=4)
GPU_BLOCKS = 8


@pytest.fixture
def store():
    with kvtier.Store(LAYOUT, model_id="vllm-test@1", host_capacity_bytes=1 << 20,
                      host_lock_memory=False) as s:
        yield s


def gpu_tensors(store, seed=None):
    """segments_per_block arrays of (GPU_BLOCKS, segment_bytes): the engine's KV."""
    shape = (GPU_BLOCKS, store.segment_bytes)
    if seed is None:
        return [np.zeros(shape, np.uint8) for _ in range(store.segments_per_block)]
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape, dtype=np.uint8)
            for _ in range(store.segments_per_block)]


def block_hashes(n, salt=0):
    tokens = list(range(salt * 1000, salt * 1000 + n * LAYOUT["block_tokens"]))
    return kvtier.vllm_block_hashes(tokens, LAYOUT["block_tokens"],
                                    kvtier.vllm_none_hash("0"))


def finish(handler, job_id, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in handler.get_finished():
            assert r.job_id == job_id
            return r
        time.sleep(0.001)
    raise AssertionError(f"job {job_id} did not finish")


def store_blocks(manager, handler, hashes, gpu_ids, job_id):
    out = manager.prepare_store(hashes)
    ids = [gpu_ids[hashes.index(h)] for h in out.block_hashes_to_store]
    assert handler.transfer_async(job_id, (standin.GPULoadStoreSpec(ids), out.store_spec))
    result = finish(handler, job_id)
    manager.complete_store(out.block_hashes_to_store, result.success)
    return out, result


def blocks_equal(a, a_ids, b, b_ids):
    return all(np.array_equal(x[i], y[j]) for x, y in zip(a, b) for i, j in zip(a_ids, b_ids))


def test_the_adapter_has_the_interfaces_signatures():
    pairs = [(kv.KvtierOffloadingManager, standin.OffloadingManager),
             (kv.KvtierOffloadingHandler, standin.OffloadingHandler),
             (kv.KvtierLoadStoreSpec, standin.LoadStoreSpec)]
    for ours, theirs in pairs:
        for name, fn in inspect.getmembers(theirs, inspect.isfunction):
            if name.startswith("_") or name.endswith("_prefix"):
                continue  # optional prefix hooks: the base's "not offered"
            got = [p.name for p in inspect.signature(getattr(ours, name)).parameters.values()]
            want = [p.name for p in inspect.signature(fn).parameters.values()]
            assert got == want, f"{ours.__name__}.{name}"
    for ours, theirs in [(kv.PrepareStoreOutput, standin.PrepareStoreOutput),
                         (kv.OffloadingEvent, standin.OffloadingEvent),
                         (kv.TransferResult, standin.TransferResult)]:
        assert [f.name for f in fields(ours)] == [f.name for f in fields(theirs)]


def test_stored_blocks_load_back_byte_for_byte(store):
    manager = kv.KvtierOffloadingManager(store, block_size=4)
    handler = kv.KvtierOffloadingHandler(store, gpu_tensors(store))
    engine = gpu_tensors(store, seed=1)
    handler._kv = engine  # the engine's tensors now hold the computed KV
    hashes = block_hashes(4)
    assert manager.lookup(hashes) == 0
    _, result = store_blocks(manager, handler, hashes, [5, 2, 7, 0], job_id=1)
    assert result.success and result.transfer_size == 4 * store.block_bytes
    assert manager.lookup(hashes) == 4
    assert manager.lookup(hashes[:2] + block_hashes(2, salt=9)) == 2
    stored = bytearray(4 * store.block_bytes)  # kvtier's layout: a block's segments in order
    assert store.load(store.engine_key_chain(hashes, profile="vllm"), stored) == 4
    assert bytes(stored) == b"".join(engine[s][b].tobytes() for b in [5, 2, 7, 0]
                                     for s in range(store.segments_per_block))

    fresh = gpu_tensors(store)
    loader = kv.KvtierOffloadingHandler(store, fresh)
    spec = manager.prepare_load(hashes)
    assert loader.transfer_async(2, (spec, standin.GPULoadStoreSpec([1, 3, 4, 6])))
    result = finish(loader, 2)
    manager.complete_load(hashes)
    assert result.success and result.transfer_type == ("KVTIER", "GPU")
    assert blocks_equal(engine, [5, 2, 7, 0], fresh, [1, 3, 4, 6])
    assert manager.lookup(hashes) == 4


def test_prepare_store_skips_blocks_already_stored_and_reports_events(store):
    manager = kv.KvtierOffloadingManager(store, block_size=4)
    handler = kv.KvtierOffloadingHandler(store, gpu_tensors(store, seed=2))
    hashes = block_hashes(4)
    store_blocks(manager, handler, hashes[:2], [0, 1], job_id=1)
    out, _ = store_blocks(manager, handler, hashes, [0, 1, 2, 3], job_id=2)
    assert out.block_hashes_to_store == hashes[2:]
    events = list(manager.take_events())
    assert [(e.block_hashes, e.removed, e.medium, e.block_size) for e in events] == [
        (hashes[:2], False, "KVTIER", 4), (hashes[2:], False, "KVTIER", 4)]
    assert list(manager.take_events()) == []


def test_lookup_answers_retry_while_a_load_or_store_is_pending(store):
    manager = kv.KvtierOffloadingManager(store, block_size=4)
    handler = kv.KvtierOffloadingHandler(store, gpu_tensors(store, seed=3))
    hashes = block_hashes(3)
    store_blocks(manager, handler, hashes[:2], [0, 1], job_id=1)
    manager.prepare_load(hashes[:2])
    assert manager.lookup(hashes) is None
    manager.complete_load(hashes[:2])
    assert manager.lookup(hashes) == 2
    out = manager.prepare_store(hashes[2:])
    assert manager.lookup(hashes) is None  # the first missing block is being stored
    assert manager.lookup(hashes[:1]) == 1  # a prefix clear of it is not
    manager.complete_store(out.block_hashes_to_store, success=True)
    assert manager.lookup(hashes) == 2  # nothing was written: a miss, not retry


def test_a_mismatched_store_is_refused_and_a_failed_store_leaves_no_blocks(store):
    manager = kv.KvtierOffloadingManager(store, block_size=4)
    handler = kv.KvtierOffloadingHandler(store, gpu_tensors(store, seed=4))
    hashes = block_hashes(2)
    out = manager.prepare_store(hashes)
    bad = standin.GPULoadStoreSpec([0])  # one GPU block for two hashes
    assert not handler.transfer_async(1, (bad, out.store_spec))
    assert handler.transfer_async(2, (standin.GPULoadStoreSpec([0, 1]), out.store_spec))
    finish(handler, 2)
    manager.complete_store(hashes, success=False)  # the engine's job failed elsewhere
    assert manager.lookup(hashes) == 0
    assert list(manager.take_events()) == []


def test_a_block_gone_before_its_load_is_a_failed_job(store):
    manager = kv.KvtierOffloadingManager(store, block_size=4)
    handler = kv.KvtierOffloadingHandler(store, gpu_tensors(store, seed=5))
    hashes = block_hashes(3)
    store_blocks(manager, handler, hashes, [0, 1, 2], job_id=1)
    spec = kv.KvtierLoadStoreSpec(hashes)  # no lease: nothing pins the blocks
    store.erase(store.engine_key_chain(hashes[1:], profile="vllm"))
    assert handler.transfer_async(2, (spec, standin.GPULoadStoreSpec([3, 4, 5])))
    result = finish(handler, 2)
    assert not result.success and result.transfer_size is None


def test_a_corrupt_block_on_nvme_is_a_failed_job_never_wrong_kv():
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/var/tmp")) as d:
        options = dict(model_id="vllm-test@1", host_capacity_bytes=1 << 20,
                       host_lock_memory=False, nvme_capacity_bytes=64 * 4096,
                       nvme_directories=[d])
        try:
            first = kvtier.Store(LAYOUT, **options)
        except kvtier.Error as e:
            if e.code_name == "NOT_SUPPORTED":
                pytest.skip("no NVMe tier in this build")
            raise
        hashes = block_hashes(3)
        with first:
            manager = kv.KvtierOffloadingManager(first, block_size=4)
            handler = kv.KvtierOffloadingHandler(first, gpu_tensors(first, seed=11))
            _, result = store_blocks(manager, handler, hashes, [0, 1, 2], job_id=1)
            assert result.success
            first.flush()
        corrupt_slot_files(d)
        with kvtier.Store(LAYOUT, **options) as store:  # host empty: NVMe serves
            manager = kv.KvtierOffloadingManager(store, block_size=4)
            fresh = gpu_tensors(store)
            loader = kv.KvtierOffloadingHandler(store, fresh)
            assert manager.lookup(hashes) == 3  # the index still names them
            spec = manager.prepare_load(hashes)
            assert loader.transfer_async(2, (spec, standin.GPULoadStoreSpec([3, 4, 5])))
            result = finish(loader, 2)
            manager.complete_load(hashes)
            assert not result.success  # the engine recomputes; nothing it uses is wrong
            assert manager.lookup(hashes) == 0  # the damaged blocks were dropped


def test_handler_waits_and_rejects_unknown_transfers(store):
    handler = kv.KvtierOffloadingHandler(store, gpu_tensors(store, seed=6))
    spec = kv.KvtierLoadStoreSpec(block_hashes(1))
    assert not handler.transfer_async(1, (spec, spec))  # KVTIER -> KVTIER
    assert handler.transfer_async(2, (standin.GPULoadStoreSpec([0]), spec))
    assert not handler.transfer_async(2, (standin.GPULoadStoreSpec([1]), spec))  # reused id
    handler.wait({2})
    assert [(r.job_id, r.success) for r in handler.get_finished()] == [(2, True)]


class FakeCudaKv:
    """One of vLLM's per-layer KV tensors on a GPU, as the handler sees it:
    row [block_id] exposes __cuda_array_interface__ (no GPU here; the
    addresses are mapped by no process, so a touch would crash)."""

    def __init__(self, base, seg):
        self.base, self.seg = base, seg

    def __getitem__(self, block_id):
        row = type("Row", (), {})()
        row.__cuda_array_interface__ = {"data": (self.base + block_id * self.seg, False),
                                        "shape": (self.seg,), "typestr": "|u1",
                                        "strides": None, "version": 3}
        return row


def test_gpu_tensors_are_device_segments_refused_cleanly_without_a_gpu(store):
    kv_gpu = [FakeCudaKv(0x7ead00000000 + s * (1 << 20), store.segment_bytes)
              for s in range(store.segments_per_block)]
    handler = kv.KvtierOffloadingHandler(store, kv_gpu)
    manager = kv.KvtierOffloadingManager(store, 4)
    hashes = block_hashes(2)
    out = manager.prepare_store(hashes)
    # NOT_SUPPORTED from the store, before any byte is touched: refused.
    assert not handler.transfer_async(1, (standin.GPULoadStoreSpec([1, 2]), out.store_spec))
    manager.complete_store(out.block_hashes_to_store, success=False)
    assert manager.lookup(hashes) == 0
    with pytest.raises(kvtier.Error, match="device") as e:
        store.save(store.engine_key_chain(hashes), [kv_gpu[s][b] for b in (1, 2)
                                                    for s in range(store.segments_per_block)])
    assert e.value.code_name == "NOT_SUPPORTED"


# -- hybrid models: a full-attention group and a sliding-window group -----
FULL = standin.FullAttentionSpec(block_size=4, num_kv_heads=2, head_size=8)
SWA = standin.SlidingWindowSpec(block_size=4, num_kv_heads=2, head_size=8, sliding_window=9)
WINDOW = standin.sliding_window_contiguous_blocks(SWA)  # 2 blocks (3 if the window were 9 tokens)


def swa_store(host_capacity_bytes=1 << 20):
    windows = [SWA.sliding_window - 1] * LAYOUT["num_layers"]
    return kvtier.Store(LAYOUT, model_id="vllm-test@1", host_capacity_bytes=host_capacity_bytes,
                        host_lock_memory=False, layer_windows=windows)


class Group:
    """One KV group of a hybrid model: its store, manager, handler and the
    engine's tensors (random KV)."""

    def __init__(self, store, index, spec, seed):
        self.store, self.index, self.spec = store, index, spec
        self.manager = kv.KvtierOffloadingManager(store, 4, group=index, kv_group_spec=spec)
        self.engine = gpu_tensors(store, seed=seed)
        self.handler = kv.KvtierOffloadingHandler(store, self.engine, group=index,
                                                  kv_group_spec=spec)

    def save(self, hashes, gpu_ids, job_id):
        out = self.manager.prepare_store(hashes)
        ids = [gpu_ids[hashes.index(h)] for h in out.block_hashes_to_store]
        spec = (standin.GPULoadStoreSpec(ids), out.store_spec)
        assert self.handler.transfer_async(job_id, spec)
        result = finish(self.handler, job_id)
        self.manager.complete_store(out.block_hashes_to_store, result.success)
        return result

    def load(self, hashes, gpu_ids, job_id, sentinel=0xEE):
        """Loads into fresh tensors filled with `sentinel`; returns them."""
        fresh = [np.full_like(t, sentinel) for t in self.engine]
        loader = kv.KvtierOffloadingHandler(self.store, fresh, group=self.index,
                                            kv_group_spec=self.spec)
        spec = self.manager.prepare_load(hashes)
        assert loader.transfer_async(job_id, (spec, standin.GPULoadStoreSpec(gpu_ids)))
        result = finish(loader, job_id)
        self.manager.complete_load(hashes)
        return spec, result, fresh


def hybrid(full_store, sw_store):
    return Group(full_store, 0, FULL, seed=11), Group(sw_store, 1, SWA, seed=12)


def vllm_hybrid_hit(full_cached, swa_cached):
    """vLLM's hybrid coordinator over the two groups' cached blocks: the full
    group's leading run, then the sliding group's longest hit within it."""
    hit = 0
    while hit < len(full_cached) and full_cached[hit]:
        hit += 1
    return standin.sliding_window_longest_hit(swa_cached[:hit], SWA)


def test_a_sliding_window_group_needs_a_store_with_its_window(store):
    with pytest.raises(ValueError, match="layer_windows"):
        kv.KvtierOffloadingManager(store, 4, group=1, kv_group_spec=SWA)
    with swa_store() as sw:
        with pytest.raises(ValueError, match="layer_windows"):
            kv.KvtierOffloadingHandler(sw, gpu_tensors(sw), group=0, kv_group_spec=FULL)
        group_spec = standin.KVCacheGroupSpec(["layers.1"], SWA)
        kv.KvtierOffloadingManager(sw, 4, group=1, kv_group_spec=group_spec)
        with pytest.raises(ValueError, match="block_tokens"):
            kv.KvtierOffloadingManager(sw, 8, group=1, kv_group_spec=standin.SlidingWindowSpec(
                block_size=8, num_kv_heads=2, head_size=8, sliding_window=8))
    kv.KvtierOffloadingManager(store, 4, kv_group_spec=standin.MLAAttentionSpec(
        block_size=4, num_kv_heads=1, head_size=8))


def test_kinds_that_cannot_work_are_refused_naming_the_group(store):
    mamba = standin.MambaSpec(block_size=4)
    with pytest.raises(NotImplementedError, match="group 2 has a MambaSpec"):
        kv.KvtierOffloadingManager(store, 4, group=2, kv_group_spec=mamba)
    chunked = standin.ChunkedLocalAttentionSpec(block_size=4, num_kv_heads=2, head_size=8,
                                                attention_chunk_size=16)
    with pytest.raises(NotImplementedError, match="group 1 has a ChunkedLocalAttentionSpec"):
        kv.KvtierOffloadingHandler(store, gpu_tensors(store), group=1,
                                   kv_group_spec=standin.KVCacheGroupSpec(["l"], chunked))


def test_hybrid_lookup_gives_the_hit_vllm_computes(store):
    with swa_store() as sw:
        full, swa = hybrid(store, sw)
        hashes = block_hashes(10)
        # Two store jobs, as vLLM offloads a request step by step; by the
        # second, the engine freed the sliding group's blocks 0 and 1 (they
        # left its window): their GPU ids are the null block.
        full.save(hashes[:4], [1, 2, 3, 4], job_id=1)
        full.save(hashes[4:], [5, 6, 7, 1, 2, 3], job_id=2)
        swa.save(hashes[:4], [0, 0, 3, 4], job_id=3)
        swa.save(hashes[4:], [5, 6, 7, 1, 2, 3], job_id=4)
        # What vLLM could find: the full group every block; the sliding
        # group the blocks each job kept whole (the window before its end).
        full_cached = [True] * 10
        swa_cached = [i in (2, 3, 8, 9) for i in range(10)]
        for n in range(11):
            want = vllm_hybrid_hit(full_cached[:n], swa_cached[:n])
            assert kv.hybrid_lookup([full.manager, swa.manager], hashes[:n]) == want, n
        assert [swa.manager.lookup(hashes[:n]) for n in (10, 9, 7, 4, 3, 1)] == [10, 4, 4, 4, 0, 0]
        assert sw.stats()["host"]["used_bytes"] == 4 * sw.stats()["host"]["slot_bytes"]


def test_blocks_the_engine_freed_are_kept_without_bytes_never_as_whole(store):
    with swa_store() as sw:
        _, swa = hybrid(store, sw)
        hashes = block_hashes(2)
        swa.engine[0][0] = 0x5A  # the null block's memory is not KV
        assert swa.save(hashes, [0, 0], job_id=1).success  # both left the window
        assert swa.manager.lookup(hashes) == 0  # a miss, not the null block's bytes
        assert sw.stats()["host"]["used_bytes"] == 0


def test_a_sliding_window_group_loads_only_its_window_byte_for_byte(store):
    with swa_store() as sw:
        full, swa = hybrid(store, sw)
        hashes = block_hashes(6)
        full.save(hashes, [1, 2, 3, 4, 5, 6], job_id=1)
        swa.save(hashes, [1, 2, 3, 4, 5, 6], job_id=2)
        assert kv.hybrid_lookup([full.manager, swa.manager], hashes) == 6
        read_before = sw.stats()["host"]["logical_bytes_read"]
        # vLLM names a GPU block for every block of the hit; those before the
        # window are the null block.
        spec, result, fresh = swa.load(hashes, [0, 0, 0, 0, 7, 3], job_id=3)
        assert (len(spec.block_hashes), spec.skipped) == (WINDOW, 6 - WINDOW)
        assert result.success and result.transfer_size == WINDOW * sw.block_bytes
        assert sw.stats()["host"]["logical_bytes_read"] - read_before == WINDOW * sw.block_bytes
        assert blocks_equal(swa.engine, [5, 6], fresh, [7, 3])  # every byte of the window
        untouched = [b for b in range(GPU_BLOCKS) if b not in (7, 3)]
        assert all((t[b] == 0xEE).all() for t in fresh for b in untouched)
        _, result, fresh = full.load(hashes, [7, 6, 5, 4, 3, 2], job_id=4)
        assert result.success and blocks_equal(full.engine, [1, 2, 3, 4, 5, 6],
                                               fresh, [7, 6, 5, 4, 3, 2])


def test_a_sliding_group_retries_only_for_transfers_in_its_window(store):
    with swa_store() as sw:
        _, swa = hybrid(store, sw)
        hashes = block_hashes(6)
        swa.save(hashes, [1, 2, 3, 4, 5, 6], job_id=1)
        swa.manager.prepare_load(hashes[4:])  # the window's blocks are being loaded
        assert swa.manager.lookup(hashes) is None
        swa.manager.complete_load(hashes[4:])
        out = swa.manager.prepare_store(hashes[:2])  # out of the window: no retry
        assert out.block_hashes_to_store == hashes[:2]  # they hold no bytes yet
        assert swa.manager.lookup(hashes) == 6
        swa.manager.complete_store(out.block_hashes_to_store, success=False)
        assert swa.manager.lookup(hashes) == 6


def test_evicting_an_out_of_window_block_keeps_the_sliding_hit(store):
    with swa_store(host_capacity_bytes=1 << 20) as probe:
        frame = probe.stats()["host"]["slot_bytes"]
    with swa_store(host_capacity_bytes=4 * frame) as sw:  # four whole blocks
        full, swa = hybrid(store, sw)
        hashes = block_hashes(10)
        for g, first in ((full, 1), (swa, 3)):
            g.save(hashes[:4], [1, 2, 3, 4], job_id=first)
            g.save(hashes[4:], [5, 6, 7, 1, 2, 3], job_id=first + 1)
        assert swa.manager.lookup(hashes) == 10
        other = block_hashes(2, salt=9)  # another request's blocks need room
        swa.save(other, [4, 5], job_id=5)
        assert sw.stats()["host"]["evictions"] >= 1
        held = [sw.lookup(sw.engine_key_chain(hashes[i:i + 1], group=1)) for i in (2, 3, 8, 9)]
        assert held == [0, 0, 1, 1]  # the whole blocks out of the window were evicted...
        assert sw.lookup(sw.engine_key_chain(hashes, group=1)) < 10  # kvtier's own prefix
        assert swa.manager.lookup(hashes) == 10  # ...and vLLM's hit does not care
        assert kv.hybrid_lookup([full.manager, swa.manager], hashes) == 10
        _, result, fresh = swa.load(hashes, [0] * 8 + [6, 7], job_id=6)
        assert result.success and blocks_equal(swa.engine, [2, 3], fresh, [6, 7])
        # A full-attention group's block gone ends its hit there.
        store.erase(store.engine_key_chain(hashes[3:4], group=0))
        assert full.manager.lookup(hashes) == 3


def test_kv_groups_name_different_blocks(store):
    group0 = kv.KvtierOffloadingManager(store, block_size=4, group=0)
    group1 = kv.KvtierOffloadingManager(store, block_size=4, group=1)
    handler = kv.KvtierOffloadingHandler(store, gpu_tensors(store, seed=7), group=0)
    hashes = block_hashes(2)
    store_blocks(group0, handler, hashes, [0, 1], job_id=1)
    assert group0.lookup(hashes) == 2
    assert group1.lookup(hashes) == 0


# -- the tiering spec's secondary tier -------------------------------------
def secondary(store, slots=8):
    primary = np.zeros(slots * store.block_bytes, np.uint8)
    return kv.KvtierSecondaryTier(None, memoryview(primary), "kvtier", store=store), primary


def job(job_id, keys, slots):
    return standin.JobMetadata(job_id, keys, np.array(slots), False,
                               standin.ReqContext("r1"))


def finish_tier(tier, job_id, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = list(tier.get_finished())
        if done:
            assert [r.job_id for r in done] == [job_id]
            return done[0]
        time.sleep(0.001)
    raise AssertionError(f"job {job_id} did not finish")


def slot(primary, store, i):
    return primary[i * store.block_bytes:(i + 1) * store.block_bytes]


def test_secondary_tier_has_the_interfaces_signatures():
    for name, fn in inspect.getmembers(standin.SecondaryTierManager, inspect.isfunction):
        got = inspect.signature(getattr(kv.KvtierSecondaryTier, name)).parameters
        want = inspect.signature(fn).parameters
        assert list(want) == list(got)[:len(want)], name
    assert [f.name for f in fields(kv.JobResult)] == [f.name for f in fields(standin.JobResult)]


def test_secondary_tier_stores_and_loads_primary_slots_byte_for_byte(store):
    tier, primary = secondary(store)
    primary[:] = np.random.default_rng(8).integers(0, 256, primary.size, dtype=np.uint8)
    ctx = standin.ReqContext("r1")
    keys = [standin.make_offload_key(h, 0) for h in block_hashes(3)]
    assert [tier.lookup(k, ctx) for k in keys] == [False] * 3
    tier.submit_store(job(1, keys, [6, 1, 3]))
    assert tier.lookup(keys[0], ctx) is None  # in flight: retry
    assert finish_tier(tier, 1).success
    assert [tier.lookup(k, ctx) for k in keys] == [True] * 3
    other_group = standin.make_offload_key(block_hashes(1)[0], 1)
    assert tier.lookup(other_group, ctx) is False
    stored = bytearray(3 * store.block_bytes)  # kvtier's layout: the slots' bytes in order
    assert store.load(store.engine_key_chain(block_hashes(3), profile="vllm"), stored) == 3
    assert bytes(stored) == b"".join(slot(primary, store, i).tobytes() for i in (6, 1, 3))

    expected = [slot(primary, store, i).copy() for i in (6, 1, 3)]
    primary[:] = 0
    tier.submit_load(job(2, keys, [0, 2, 4]))
    assert tier.lookup(keys[2], ctx) is None
    assert finish_tier(tier, 2).success
    for want, i in zip(expected, (0, 2, 4)):
        assert np.array_equal(slot(primary, store, i), want)


def test_secondary_tier_store_skips_present_blocks_and_a_missing_load_fails(store):
    tier, primary = secondary(store)
    keys = [standin.make_offload_key(h, 0) for h in block_hashes(2)]
    tier.submit_store(job(1, keys[:1], [0]))
    finish_tier(tier, 1)
    tier.submit_store(job(2, keys, [0, 1]))
    assert tier._jobs[2][1] == keys[1:]  # only the block not yet stored
    finish_tier(tier, 2)
    store.erase(store.engine_key_chain(block_hashes(2)[1:], profile="vllm"))
    tier.submit_load(job(3, keys, [4, 5]))
    assert not finish_tier(tier, 3).success
    tier.submit_load(job(4, keys, [4]))  # keys and slots disagree
    assert not finish_tier(tier, 4).success


def test_secondary_tier_keys_carry_the_kv_group_big_endian(store):
    tier, primary = secondary(store)
    hashes = block_hashes(1)
    tier.submit_store(job(1, [standin.make_offload_key(hashes[0], 3)], [0]))
    assert finish_tier(tier, 1).success
    assert store.lookup(store.engine_key_chain(hashes, profile="vllm", group=3)) == 1
    assert store.lookup(store.engine_key_chain(hashes, profile="vllm", group=0)) == 0
