"""kvtier.vllm on the scheduler/worker split: the scheduler's
KvtierSplitOffloadingManager in this process, two worker processes (TP=2,
forked) each with a KvtierSplitOffloadingHandler over its kvtier.split.Worker
and numpy "GPU" tensors. Specs travel to the workers and (ticket, result)
bytes back as vLLM would carry them (pickled over a pipe); every loaded
byte is checked on each rank against what that rank saved; a worker killed
makes the job count for nothing (a miss), never other KV."""
import multiprocessing
import os
import signal
import sys
import tempfile

import numpy as np
import pytest

import kvtier
from kvtier import vllm as kv

sys.path.insert(0, os.path.dirname(__file__))
import vllm_standin as standin  # noqa: E402

LAYOUT = dict(num_layers=2, kv_heads=2, head_dim=8, block_tokens=4)
SEG = 4 * 2 * 8 * 2  # block_tokens x kv_heads x head_dim x fp16
PER_BLOCK = 2 * 2  # layers x (K, V)
GPU_BLOCKS = 16
RANKS = 2


def options(rank=0, nvme_dir=None):
    o = dict(LAYOUT, model_id="vllm-split@1", host_capacity_bytes=64 * 4096,
             host_lock_memory=False, rank=rank)
    if nvme_dir:
        o.update(nvme_capacity_bytes=64 * 4096, nvme_directories=[nvme_dir])
    return o


def block_hashes(n, salt=0):
    tokens = list(range(salt * 1000, salt * 1000 + n * LAYOUT["block_tokens"]))
    return kvtier.vllm_block_hashes(tokens, LAYOUT["block_tokens"], kvtier.vllm_none_hash("0"))


def content(rank, block_hash, segment):
    """The KV rank `rank` computes for a block: its own shard, so the ranks differ."""
    seed = int.from_bytes(block_hash[:8], "little") ^ (rank * 7919 + segment * 104729)
    return np.random.default_rng(seed).integers(0, 256, SEG, dtype=np.uint8)


def worker_main(conn, rank, nvme_dir):
    """A worker process: the engine's tensors, a Worker and the handler."""
    worker = kvtier.split.Worker(options(rank, nvme_dir))
    conn.send(worker.hello())
    worker.apply_join(conn.recv())
    gpu = [np.zeros((GPU_BLOCKS, SEG), np.uint8) for _ in range(PER_BLOCK)]
    handler = kv.KvtierSplitOffloadingHandler(worker, gpu)
    while True:
        try:
            job_id, spec, ids, hashes = conn.recv()
        except EOFError:
            return
        for t in gpu:
            t[ids] = 0xEE  # what the engine's blocks held before: not the KV
        if spec[0].medium() == "GPU":  # a store: the engine computed these blocks
            for b, h in zip(ids, hashes):
                for s in range(PER_BLOCK):
                    gpu[s][b] = content(rank, h, s)
        ok = handler.transfer_async(job_id, spec)
        handler.wait({job_id})
        results = handler.get_finished()
        verified = [all(np.array_equal(gpu[s][b], content(rank, h, s)) for s in range(PER_BLOCK))
                    for b, h in zip(ids, hashes)]
        conn.send((ok, [(r.job_id, r.success) for r in results], handler.take_results(),
                   verified))


class Engine:
    """vLLM's role: the scheduler's manager, ships specs and results."""

    def __init__(self, nvme=False):
        self.dirs = [tempfile.TemporaryDirectory() if nvme else None for _ in range(RANKS)]
        self.scheduler = kvtier.split.Scheduler(options(0, self.dirs[0] and self.dirs[0].name),
                                                ranks=RANKS)
        self.manager = kv.KvtierSplitOffloadingManager(self.scheduler, block_size=4)
        self.ctx = multiprocessing.get_context("fork")
        self.workers = [None] * RANKS
        self.job_id = 0
        for rank in range(RANKS):
            self.start(rank)

    def start(self, rank):
        parent, child = self.ctx.Pipe()
        nvme_dir = self.dirs[rank] and self.dirs[rank].name
        proc = self.ctx.Process(target=worker_main, args=(child, rank, nvme_dir), daemon=True)
        proc.start()
        child.close()
        parent.send(self.scheduler.join(parent.recv()))
        self.workers[rank] = (proc, parent)

    def kill(self, rank):
        proc, conn = self.workers[rank]
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        conn.close()
        self.workers[rank] = None

    def close(self):
        for rank, w in enumerate(self.workers):
            if w:
                self.kill(rank)
        for d in self.dirs:
            if d:
                d.cleanup()

    def run(self, spec, ids, hashes):
        """Sends one job to every live worker; returns per rank (job success,
        every block verified) and hands the results to the manager."""
        self.job_id += 1
        answers = []
        for w in self.workers:
            if w:
                w[1].send((self.job_id, spec, ids, hashes))
        for w in self.workers:
            if not w:
                answers.append(None)
                continue
            ok, finished, results, verified = w[1].recv()
            assert ok and finished[0][0] == self.job_id
            self.manager.add_results(results)
            answers.append((finished[0][1], verified))
        return answers

    def store(self, hashes, ids):
        out = self.manager.prepare_store(hashes)
        picked = [ids[hashes.index(h)] for h in out.block_hashes_to_store]
        answers = self.run((standin.GPULoadStoreSpec(picked), out.store_spec), picked,
                           out.block_hashes_to_store)
        success = all(a is not None and a[0] for a in answers)  # vLLM: every rank finished
        self.manager.complete_store(out.block_hashes_to_store, success)
        return answers

    def load(self, hashes, ids):
        spec = self.manager.prepare_load(hashes)
        answers = self.run((spec, standin.GPULoadStoreSpec(ids)), ids, hashes)
        self.manager.complete_load(hashes)
        return answers


@pytest.fixture
def engine():
    e = Engine()
    yield e
    e.close()


def test_loads_and_saves_through_vllms_interfaces_verify_every_byte_on_both_ranks(engine):
    hashes = block_hashes(5)
    assert engine.manager.lookup(hashes) == 0
    answers = engine.store(hashes, [3, 1, 4, 9, 2])
    assert [a[0] for a in answers] == [True, True]
    assert [o[1:] for o in engine.manager.commit_outcomes()] == [("save", 5, 0)]
    assert engine.manager.lookup(hashes) == 5
    assert [e.block_hashes for e in engine.manager.take_events()] == [hashes]
    answers = engine.load(hashes, [10, 11, 12, 13, 14])
    for ok, verified in answers:  # each rank got back exactly what it saved
        assert ok and verified == [True] * 5
    assert [o[1:] for o in engine.manager.commit_outcomes()] == [("load", 5, 0)]
    # A prefix and a tail already stored: only the new blocks travel.
    longer = block_hashes(7)
    out = engine.manager.prepare_store(longer)
    assert out.block_hashes_to_store == longer[5:]
    # Both ranks wrote them, but vLLM failed the job elsewhere: nothing counts.
    engine.run((standin.GPULoadStoreSpec([5, 6]), out.store_spec), [5, 6], longer[5:])
    engine.manager.complete_store(out.block_hashes_to_store, success=False)
    assert engine.manager.commit_outcomes()[0][1:] == ("save", 0, RANKS)
    assert engine.manager.lookup(longer) == 5
    # vLLM asked for more than is stored: the job fails on every rank.
    answers = engine.load(longer, [1, 2, 3, 4, 5, 6, 7])
    assert [a[0] for a in answers] == [False, False]


def test_a_plan_made_before_a_worker_restarted_fails_on_that_rank(engine):
    hashes = block_hashes(3, salt=7)
    engine.store(hashes, [0, 1, 2])
    spec = engine.manager.prepare_load(hashes)  # planned, pinned, not yet sent
    engine.kill(1)
    engine.start(1)  # an empty host tier: the plan's slots hold nothing there
    answers = engine.run((spec, standin.GPULoadStoreSpec([4, 5, 6])), [4, 5, 6], hashes)
    engine.manager.complete_load(hashes)
    assert answers[0] == (True, [True] * 3)
    assert answers[1] == (False, [False] * 3)  # rank 1 wrote nothing, said so
    assert [o[1:] for o in engine.manager.commit_outcomes()][-1] == ("load", 0, 0)


def test_lookup_answers_retry_while_a_plan_is_out(engine):
    hashes = block_hashes(3, salt=2)
    engine.store(hashes, [0, 1, 2])
    spec = engine.manager.prepare_load(hashes)
    assert spec.ticket and engine.manager.lookup(hashes) is None
    engine.run((spec, standin.GPULoadStoreSpec([5, 6, 7])), [5, 6, 7], hashes)
    engine.manager.complete_load(hashes)
    assert engine.manager.lookup(hashes) == 3


def test_a_killed_worker_fails_the_job_and_never_serves_other_kv(engine):
    hashes = block_hashes(4, salt=3)
    engine.store(hashes, [0, 1, 2, 3])
    engine.manager.commit_outcomes()
    engine.kill(1)
    # A load: rank 0 still loads and verifies its shard, but the commit
    # counts nothing: rank 1's result never came.
    answers = engine.load(hashes, [4, 5, 6, 7])
    assert answers[1] is None and answers[0] == (True, [True] * 4)
    assert [o[1:] for o in engine.manager.commit_outcomes()] == [("load", 0, 1)]
    # A store: even if the engine called the job a success, nothing counts.
    more = block_hashes(3, salt=4)
    out = engine.manager.prepare_store(more)
    engine.run((standin.GPULoadStoreSpec([8, 9, 10]), out.store_spec), [8, 9, 10], more)
    engine.manager.complete_store(more, success=True)
    assert [o[1:] for o in engine.manager.commit_outcomes()] == [("save", 0, 1)]
    assert engine.manager.lookup(more) == 0
    assert list(engine.manager.take_events()) == [kv.OffloadingEvent(hashes, 4, "KVTIER", False)]
    # The worker restarts with an empty host tier: its blocks are a miss now.
    engine.start(1)
    assert engine.manager.lookup(hashes) == 0
    engine.store(hashes, [0, 1, 2, 3])
    for ok, verified in engine.load(hashes, [12, 13, 14, 15]):
        assert ok and verified == [True] * 4


def test_write_downs_ride_with_the_next_job_and_survive_a_worker_restart():
    engine = Engine(nvme=True)
    try:
        hashes = block_hashes(4, salt=5)
        engine.store(hashes, [0, 1, 2, 3])
        # The next job carries the host -> NVMe copies the save owed.
        other = block_hashes(2, salt=6)
        out = engine.manager.prepare_store(other)
        assert out.store_spec.write_downs
        engine.run((standin.GPULoadStoreSpec([4, 5]), out.store_spec), [4, 5], other)
        engine.manager.complete_store(other, success=True)
        kinds = [o[1:] for o in engine.manager.commit_outcomes()]
        assert ("write_down", 4, 0) in kinds and kinds[-1] == ("save", 2, 0)
        engine.kill(1)
        engine.start(1)  # its host tier is gone; its NVMe copies are back
        assert engine.manager.lookup(hashes) == 4
        for ok, verified in engine.load(hashes, [8, 9, 10, 11]):
            assert ok and verified == [True] * 4
    finally:
        engine.close()


# -- hybrid models: a full-attention group and a sliding-window group -----
FULL = standin.FullAttentionSpec(block_size=4, num_kv_heads=2, head_size=8)
SWA = standin.SlidingWindowSpec(block_size=4, num_kv_heads=2, head_size=8, sliding_window=8)
WINDOW = standin.sliding_window_contiguous_blocks(SWA)  # 2 blocks
SPECS = [FULL, SWA]


def group_options(group, rank=0):
    o = options(rank)
    if group == 1:  # every layer of the sliding group slides
        o["layer_windows"] = [SWA.sliding_window - 1] * LAYOUT["num_layers"]
    return o


def hybrid_worker_main(conn, rank):
    """A worker process of a hybrid model: per KV group, its Worker, tensors
    and handler. Per job: fills the stored blocks with this rank's KV (the
    null block's memory with junk), or fills every block with a sentinel
    before a load; answers whether the blocks loaded hold this rank's KV
    and every other block still holds the sentinel."""
    workers = [kvtier.split.Worker(group_options(g, rank)) for g in range(2)]
    conn.send([w.hello() for w in workers])
    for w, reply in zip(workers, conn.recv()):
        w.apply_join(reply)
    gpu = [[np.zeros((GPU_BLOCKS, SEG), np.uint8) for _ in range(PER_BLOCK)] for _ in range(2)]
    handlers = [kv.KvtierSplitOffloadingHandler(w, t, group=g, kv_group_spec=SPECS[g])
                for g, (w, t) in enumerate(zip(workers, gpu))]
    while True:
        try:
            group, job_id, spec, ids, hashes = conn.recv()
        except EOFError:
            return
        tensors, handler = gpu[group], handlers[group]
        load = spec[0].medium() != "GPU"
        for t in tensors:
            t[:] = 0xEE if load else 0x5A  # not KV: a sentinel, the null block's junk
        if not load:
            for b, h in zip(ids, hashes):
                for s in range(PER_BLOCK):
                    tensors[s][b] = content(rank, h, s + 100 * group)
        ok = handler.transfer_async(job_id, spec)
        handler.wait({job_id})
        results = handler.get_finished()
        verified = [all(np.array_equal(tensors[s][b], content(rank, h, s + 100 * group))
                        for s in range(PER_BLOCK)) for b, h in zip(ids, hashes)]
        others = [b for b in range(GPU_BLOCKS) if b not in ids]
        untouched = all((t[others] == 0xEE).all() for t in tensors) if load else True
        conn.send((ok, [(r.job_id, r.success) for r in results], handler.take_results(),
                   verified, untouched))


class HybridEngine:
    """vLLM's role for a hybrid model: a scheduler and a manager per group."""

    def __init__(self):
        self.schedulers = [kvtier.split.Scheduler(group_options(g), ranks=RANKS)
                           for g in range(2)]
        self.managers = [kv.KvtierSplitOffloadingManager(s, 4, group=g, kv_group_spec=SPECS[g])
                         for g, s in enumerate(self.schedulers)]
        ctx = multiprocessing.get_context("fork")
        self.workers = []
        for rank in range(RANKS):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=hybrid_worker_main, args=(child, rank), daemon=True)
            proc.start()
            child.close()
            parent.send([s.join(h) for s, h in zip(self.schedulers, parent.recv())])
            self.workers.append((proc, parent))
        self.job_id = 0

    def close(self):
        for proc, conn in self.workers:
            os.kill(proc.pid, signal.SIGKILL)
            proc.join()
            conn.close()

    def run(self, group, spec, ids, hashes):
        """One job on every rank: [(success, verified, untouched)] per rank."""
        self.job_id += 1
        for _, conn in self.workers:
            conn.send((group, self.job_id, spec, ids, hashes))
        answers = []
        for _, conn in self.workers:
            ok, finished, results, verified, untouched = conn.recv()
            assert ok and finished[0][0] == self.job_id
            self.managers[group].add_results(results)
            answers.append((finished[0][1], verified, untouched))
        return answers

    def store(self, group, hashes, gpu_ids, tell_ids=True):
        manager = self.managers[group]
        out = manager.prepare_store(hashes, block_ids=gpu_ids if tell_ids else None)
        ids = [gpu_ids[hashes.index(h)] for h in out.block_hashes_to_store]
        held = [(b, h) for b, h in zip(ids, out.block_hashes_to_store) if b != 0]
        answers = self.run(group, (standin.GPULoadStoreSpec(ids), out.store_spec),
                           [b for b, _ in held], [h for _, h in held])
        success = all(a[0] for a in answers)
        manager.complete_store(out.block_hashes_to_store, success)
        return answers

    def load(self, group, hashes, gpu_ids):
        """Loads `hashes` into `gpu_ids` (the null block before the window)."""
        manager = self.managers[group]
        spec = manager.prepare_load(hashes)
        real = [(b, h) for b, h in zip(gpu_ids, hashes) if b != 0]
        answers = self.run(group, (spec, standin.GPULoadStoreSpec(gpu_ids)),
                           [b for b, _ in real], [h for _, h in real])
        manager.complete_load(hashes)
        return spec, answers


def vllm_hybrid_hit(full_cached, swa_cached):
    hit = 0
    while hit < len(full_cached) and full_cached[hit]:
        hit += 1
    return standin.sliding_window_longest_hit(swa_cached[:hit], SWA)


@pytest.fixture
def hybrid():
    e = HybridEngine()
    yield e
    e.close()


def test_a_hybrid_model_on_the_split_loads_only_the_window_every_byte_on_both_ranks(hybrid):
    hashes = block_hashes(10, salt=8)
    # Two store jobs per group, as vLLM offloads a request step by step; by
    # the second, the engine freed the sliding group's blocks 0 and 1.
    hybrid.store(0, hashes[:4], [1, 2, 3, 4])
    hybrid.store(0, hashes[4:], [5, 6, 7, 1, 2, 3])
    hybrid.store(1, hashes[:4], [0, 0, 3, 4])
    hybrid.store(1, hashes[4:], [5, 6, 7, 1, 2, 3])
    assert [o[1:] for o in hybrid.managers[1].commit_outcomes()] == [("save", 4, 0),
                                                                      ("save", 6, 0)]
    swa_cached = [i in (2, 3, 8, 9) for i in range(10)]  # the window before each job's end
    for n in range(11):
        want = vllm_hybrid_hit([True] * n, swa_cached[:n])
        assert kv.hybrid_lookup(hybrid.managers, hashes[:n]) == want, n
    assert [hybrid.managers[1].lookup(hashes[:n]) for n in (10, 9, 7, 4, 3)] == [10, 4, 4, 4, 0]
    # The sliding group: vLLM names a GPU block for every block of the hit,
    # the null block before the window; only the window is read and written.
    spec, answers = hybrid.load(1, hashes, [0] * 8 + [9, 11])
    assert (len(spec.block_hashes), spec.skipped, spec.blocks) == (WINDOW, 8, WINDOW)
    assert answers == [(True, [True] * WINDOW, True)] * RANKS
    assert [o[1:] for o in hybrid.managers[1].commit_outcomes()] == [("load", WINDOW, 0)]
    _, answers = hybrid.load(0, hashes, list(range(10, 16)) + [1, 2, 3, 4])
    assert answers == [(True, [True] * 10, True)] * RANKS


def test_blocks_the_engine_freed_are_index_entries_on_the_split_never_the_null_block(hybrid):
    hashes = block_hashes(2, salt=9)
    # Both blocks left the window before the store: their ids are the null
    # block. Told so, the plan keeps them without bytes on every rank.
    answers = hybrid.store(1, hashes, [0, 0])
    assert [a[0] for a in answers] == [True] * RANKS
    assert [o[1:] for o in hybrid.managers[1].commit_outcomes()] == [("save", 2, 0)]
    assert hybrid.managers[1].lookup(hashes) == 0  # a miss, not the null block's bytes
    # Not told: the plan saves them whole, every rank refuses the null
    # segments, the job fails and nothing is stored.
    more = block_hashes(2, salt=10)
    answers = hybrid.store(1, more, [0, 0], tell_ids=False)
    assert [a[0] for a in answers] == [False] * RANKS
    assert [o[1:] for o in hybrid.managers[1].commit_outcomes()] == [("save", 0, RANKS)]
    assert hybrid.managers[1].lookup(more) == 0
    with pytest.raises(ValueError, match="block_ids"):
        hybrid.managers[1].prepare_store(more, block_ids=[0])


def test_a_sliding_group_needs_a_scheduler_with_its_window():
    sched = kvtier.split.Scheduler(options(), ranks=1)
    with pytest.raises(ValueError, match="layer_windows"):
        kv.KvtierSplitOffloadingManager(sched, 4, group=1, kv_group_spec=SWA)
    mamba = standin.MambaSpec(block_size=4)
    with pytest.raises(NotImplementedError, match="group 2 has a MambaSpec"):
        kv.KvtierSplitOffloadingManager(sched, 4, group=2, kv_group_spec=mamba)


def test_the_scheduler_names_engine_keys_as_a_rank_0_store_does():
    hashes = block_hashes(3)
    sched = kvtier.split.Scheduler(options(rank=1), ranks=2)
    with kvtier.Store(options(rank=0)) as store:
        want = store.engine_key_chain(hashes, group=2)
        got = sched.engine_key_chain(hashes, group=2)
        assert [got[i] for i in range(3)] == [want[i] for i in range(3)]
    with pytest.raises(kvtier.Error, match="engine_keys"):
        sched.engine_key_chain([b"short"])
    with pytest.raises(kvtier.Error):
        kvtier.split.result_moves(b"not a result")
