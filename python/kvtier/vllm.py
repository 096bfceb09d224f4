"""kvtier behind vLLM's KV offloading interfaces (vllm/v1/kv_offload).

Matched interfaces (vllm-project/vllm as read from the reference index; the
commit kvtier's engine-hash profile matched, 001cabc1be16a59a70d720ed61a1
3b678c060a18, was not in it):
- vllm/v1/kv_offload/abstract.py at 00d169bfa55967fc48d6f1b08cfc929c1cce3545:
  OffloadingManager, LoadStoreSpec, PrepareStoreOutput, OffloadingEvent.
- vllm/v1/kv_offload/worker/worker.py at 06bb4a63a14b5b1f34ad9455e8e4aa017ee6e0f3:
  OffloadingHandler, TransferSpec, TransferResult.
- vllm/v1/kv_offload/tiering/base.py at 041410b9b13a5e762e6bfce4a0ce39574def5919
  (the tiering spec): SecondaryTierManager, JobMetadata, JobResult; keys
  are vLLM's OffloadKey (block hash + 4-byte big-endian KV-group index).

KvtierOffloadingManager runs in the scheduler: lookup, prepare/complete
load and store, take_events. KvtierOffloadingHandler runs in the worker:
transfer_async starts kvtier begin_save/begin_load between the engine's KV
blocks and the store, get_finished reports (job_id, success).
KvtierSecondaryTier serves the tiering spec: kvtier behind vLLM's CPU tier,
copying between the CPU tier's slots and the store without blocking. Blocks are
named by vLLM's own block hashes and KV-group index (Store.engine_key_chain,
profile "vllm"). These share one kvtier.Store, so they run in one process
(vLLM's single-process executor). With a scheduler process and one worker
process per tensor-parallel rank, KvtierSplitOffloadingManager (over a
kvtier.split.Scheduler) and KvtierSplitOffloadingHandler (over each rank's
kvtier.split.Worker) serve the same interfaces: plans travel as bytes in
the spec vLLM hands the workers, results come back through the handler's
take_results() and the manager's add_results() (vllm_split.py), sliding-window
groups included (the glue names the freed blocks: prepare_store(...,
block_ids=)). The handlers pass vLLM's GPU tensors as device segments
(__cuda_array_interface__); where the store cannot copy device memory (no
GPU) transfer_async returns False, and on the split (host memory only) the
job fails: NOT_SUPPORTED from kvtier, never a crash.

Hybrid models (KV-cache groups of different kinds). One manager and one
handler per group, as vLLM keeps a block table per group:
- A full-attention group (FullAttentionSpec, MLAAttentionSpec) needs every
  block before the hit point: its store has no layer_windows.
- A sliding-window group (SlidingWindowSpec, window W tokens) has its own
  store whose layers all slide, layer_windows = [W - 1] * its layers (the
  token being computed is itself in the window, so W - 1 tokens before it
  are needed; check_kv_group_spec refuses another store). kvtier's trimming
  then keeps, per store job, only the blocks within the window before the
  job's end (and before every swa_checkpoint_blocks-th block of the job)
  whole; the others are index entries without bytes, as is a block whose
  GPU id is vLLM's null block (the engine already freed it). lookup is
  vLLM's SlidingWindowManager rule: the largest P whose last
  ceil((W - 1) / block_size) blocks are whole in the store (else the
  leading run of whole blocks), so a block out of the window may be
  evicted or never stored without shortening the hit; prepare_load names
  only those window blocks (skipped = the blocks before them, whose GPU ids
  the handler skips), and only they are read and written.
- Groups of one kind may share a store (keys carry the group index);
  hybrid_lookup(managers, block_hashes) gives the hit all groups allow, as
  vLLM's hybrid coordinator computes it.
- Any other kind (Mamba, chunked local attention, cross attention, ...)
  raises NotImplementedError naming the group.

Semantics beyond the ABCs:
- lookup returns None ("retry later", as in vLLM's tiering spec's
  SecondaryTierManager.lookup) when a block of the leading hit, or the first
  missing block, has a load or store prepared and not completed.
- A failed or partial transfer is reported as success=False, never as
  success with wrong bytes; a block erased or evicted before its load is a
  failed load job.
- kv_group_spec may be vLLM's KVCacheGroupSpec or its kv_cache_spec;
  speculative decoding's extra sliding-window block (use_eagle) is not
  modelled.
- take_events yields stored events; kvtier evicts inside the library
  without telling the caller, so no removed events are derived.

The module imports without vLLM (duck-typed); when vLLM is importable, the
classes subclass its real ABCs.
"""
from dataclasses import dataclass

from .errors import Error

try:  # subclass vLLM's real ABCs when it is installed
    from vllm.v1.kv_offload.abstract import LoadStoreSpec as _SpecBase
    from vllm.v1.kv_offload.abstract import OffloadingEvent, OffloadingManager as _ManagerBase
    from vllm.v1.kv_offload.abstract import PrepareStoreOutput
    from vllm.v1.kv_offload.worker.worker import OffloadingHandler as _HandlerBase
    from vllm.v1.kv_offload.worker.worker import TransferResult
except ImportError:
    _SpecBase = _ManagerBase = _HandlerBase = object

    @dataclass
    class PrepareStoreOutput:
        block_hashes_to_store: list
        store_spec: object
        block_hashes_evicted: list

    @dataclass
    class OffloadingEvent:
        block_hashes: list
        block_size: int
        medium: str
        removed: bool  # True if blocks are removed, False if stored

    @dataclass
    class TransferResult:
        job_id: int
        success: bool
        transfer_size: int = None  # bytes
        transfer_time: float = None
        transfer_type: tuple = None

try:  # the tiering spec's secondary tiers (newer vLLM)
    from vllm.v1.kv_offload.tiering.base import JobResult
    from vllm.v1.kv_offload.tiering.base import SecondaryTierManager as _TierBase
except ImportError:
    _TierBase = object

    @dataclass
    class JobResult:
        job_id: int
        success: bool

MEDIUM = "KVTIER"
NULL_BLOCK_ID = 0  # vLLM's BlockPool reserves block 0: the null block


def _spec_of(spec):
    """A KVCacheGroupSpec's kv_cache_spec, or the spec itself."""
    return getattr(spec, "kv_cache_spec", spec)


def _kinds(spec):
    return [c.__name__ for c in type(spec).__mro__]


def window_blocks(kv_group_spec, group=0):
    """Blocks before a hit point a KV group needs: 0 for full attention (all
    of them), ceil((sliding_window - 1) / block_size) for a sliding-window
    group (vLLM's SlidingWindowManager: the token being computed is itself
    in the window). NotImplementedError naming the group for any other kind."""
    spec = _spec_of(kv_group_spec)
    if spec is None:
        return 0
    kinds = _kinds(spec)
    if "SlidingWindowSpec" in kinds:
        return -(-(spec.sliding_window - 1) // spec.block_size)
    if "FullAttentionSpec" in kinds:
        return 0
    raise NotImplementedError(
        f"kvtier.vllm: KV-cache group {group} has a {type(spec).__name__}, which kvtier "
        "cannot serve (full-attention and sliding-window groups only)")


def check_kv_group_spec(spec, group=0, store=None):
    """The group's window_blocks(); with `store`, also checks that the store
    was opened for that kind of group (ValueError naming the option)."""
    window = window_blocks(spec, group)
    spec = _spec_of(spec)
    if store is None or spec is None:
        return window
    if store.block_tokens != spec.block_size:
        raise ValueError(f"kvtier.vllm: group {group}: block_tokens is {store.block_tokens}, "
                         f"vLLM's block_size {spec.block_size}")
    windows = list(store.options.get("layer_windows") or [])
    want = [spec.sliding_window - 1] * len(windows) if window else [0] * len(windows)
    if window and (not windows or windows != want):
        raise ValueError(f"kvtier.vllm: group {group} slides over {spec.sliding_window} "
                         f"tokens: open its store with layer_windows = "
                         f"[{spec.sliding_window - 1}] * num_layers, not {windows or None}")
    if not window and windows != want:
        raise ValueError(f"kvtier.vllm: group {group} is full attention: its store must "
                         f"not set layer_windows ({windows})")
    return window


def sliding_window_hit(present, blocks, window):
    """vLLM's hit for a sliding-window group of `blocks` blocks, present(i)
    telling whether block i's in-window bytes are loadable: the largest P
    whose last `window` blocks are all present, else the leading run of
    present blocks. Scans from the end and stops at the first such P, as
    vLLM does, so a long hit costs about `window` probes."""
    run = 0
    for i in range(blocks - 1, -1, -1):
        run = run + 1 if present(i) else 0
        if run >= window:
            return i + window
    return run


def hybrid_lookup(managers, block_hashes):
    """The hit a hybrid model takes: the longest prefix every group's manager
    offers (vLLM's hybrid coordinator). None when one answers retry."""
    hashes = list(block_hashes)
    hit = len(hashes)
    while True:
        shortest = hit
        for manager in managers:
            got = manager.lookup(hashes[:shortest])
            if got is None:
                return None
            shortest = min(shortest, got)
        if shortest == hit:
            return hit
        hit = shortest


class KvtierLoadStoreSpec(_SpecBase):
    """Blocks in the kvtier store: vLLM block hashes of one KV group, and the
    lease pinning them for a load (0 for a store or no lease). `skipped`:
    leading blocks of the load vLLM asked for that this spec leaves out (a
    sliding-window group's blocks before its window): the GPU spec may name
    them too (null blocks), and the handler then skips that many ids."""

    def __init__(self, block_hashes, group=0, lease=0, skipped=0):
        self.block_hashes = [bytes(h) for h in block_hashes]
        self.group = group
        self.lease = lease
        self.skipped = skipped

    @staticmethod
    def medium():
        return MEDIUM

    def __repr__(self):
        return (f"KvtierLoadStoreSpec({len(self.block_hashes)} blocks, group={self.group}, "
                f"lease={self.lease}, skipped={self.skipped})")


class _GroupIndex:
    """What both managers share: naming a KV group's blocks, vLLM's hit rule
    (the whole prefix, or a sliding-window group's trailing window) and
    "retry" while a transfer in flight decides the answer. `index` is a
    kvtier.Store or a kvtier.split.Scheduler (both answer lookup and
    engine_key_chain)."""

    def _init_index(self, index, group, kv_group_spec):
        self._window = check_kv_group_spec(kv_group_spec, group, index)
        self._index = index
        self._group = group
        self._loading = {}  # block hash -> loads prepared and not completed
        self._storing = set()  # block hashes with a store prepared

    def _chain(self, keys):
        return self._index.engine_key_chain(keys, profile="vllm", group=self._group)

    def _present(self, key):
        return self._index.lookup(self._chain([key])) == 1

    def lookup(self, block_hashes):
        keys = [bytes(h) for h in block_hashes]
        if not keys:
            return 0
        hit = self._hit(self._chain(keys))
        first = max(0, hit - self._window) if self._window else 0
        if any(k in self._loading or k in self._storing for k in keys[first:hit + 1]):
            return None  # a transfer in flight decides the answer: retry
        return hit

    def _hit(self, chain):
        if not self._window:
            return self._index.lookup(chain)
        # A one-block chain counts only when the block keeps its sliding
        # layers (whole): exactly "its in-window bytes are loadable".
        return sliding_window_hit(lambda i: self._index.lookup(chain[i:i + 1]) == 1,
                                  len(chain), self._window)

    def _loads_completed(self, keys):
        for k in keys:
            left = self._loading.get(k, 0) - 1
            if left > 0:
                self._loading[k] = left
            else:
                self._loading.pop(k, None)


class KvtierOffloadingManager(_GroupIndex, _ManagerBase):
    """vLLM's OffloadingManager over a kvtier.Store (the scheduler's side).
    A sliding-window group's store is opened with every layer's window set to
    sliding_window - 1 (check_kv_group_spec says so otherwise)."""

    def __init__(self, store, block_size, group=0, kv_group_spec=None, lease_ms=30000):
        self._init_index(store, group, kv_group_spec)
        self._store = store
        self._block_size = block_size
        self._lease_ms = lease_ms
        self._leases = {}  # lease -> block hashes of its load not yet completed
        self._events = []

    def prepare_load(self, block_hashes):
        keys = [bytes(h) for h in block_hashes]
        # A sliding-window group loads only the blocks of its window.
        loaded = keys[-self._window:] if self._window else keys
        lease = 0
        if loaded:
            _, lease = self._store.lookup_and_lease(self._chain(loaded), self._lease_ms)
        for k in keys:
            self._loading[k] = self._loading.get(k, 0) + 1
        if lease:
            self._leases[lease] = set(keys)
        return KvtierLoadStoreSpec(loaded, self._group, lease, len(keys) - len(loaded))

    def touch(self, block_hashes):
        return  # kvtier tracks recency on its own loads and saves

    def complete_load(self, block_hashes):
        keys = {bytes(h) for h in block_hashes}
        self._loads_completed(keys)
        for lease, pinned in list(self._leases.items()):
            pinned -= keys
            if not pinned:
                del self._leases[lease]
                self._store.release_lease(lease)  # False once the load ended it

    def prepare_store(self, block_hashes):
        keys = [bytes(h) for h in block_hashes]
        try:
            to_store = [k for k in keys if k not in self._storing and not self._present(k)]
        except Error:
            return None  # the store cannot answer: the blocks cannot be stored
        self._storing.update(to_store)
        return PrepareStoreOutput(block_hashes_to_store=to_store,
                                  store_spec=KvtierLoadStoreSpec(to_store, self._group),
                                  block_hashes_evicted=[])

    def complete_store(self, block_hashes, success=True):
        keys = [bytes(h) for h in block_hashes if bytes(h) in self._storing]
        self._storing.difference_update(keys)
        if not success:
            # What a failed job wrote is not trusted. Only blocks it made
            # loadable are erased: a sliding group's block may have been in
            # the store without bytes before (trimmed), and erasing it would
            # take every block linked after it too.
            for k in keys:
                if self._present(k):
                    self._store.erase(self._chain([k]))
            return
        stored = [k for k in keys if self._present(k)]
        if stored:
            self._events.append(OffloadingEvent(block_hashes=stored,
                                                block_size=self._block_size,
                                                medium=MEDIUM, removed=False))

    def take_events(self):
        events, self._events = self._events, []
        yield from events


class _Job:
    def __init__(self, transfer, blocks, transfer_type):
        self.transfer = transfer
        self.blocks = blocks
        self.transfer_type = transfer_type

    def succeeded(self):
        return _all_done(self.transfer)


class KvtierOffloadingHandler(_HandlerBase):
    """vLLM's OffloadingHandler between the engine's KV blocks and a
    kvtier.Store (the worker's side).

    kv_segments: one array per kvtier segment of a block (segments_per_block
    of them: each layer's K then V), each indexed by the engine's block id,
    whose row [block_id] is one contiguous segment of segment_bytes bytes:
    vLLM's per-layer KV tensors, or numpy arrays standing in for them.
    For a sliding-window group, a store from vLLM's null block
    (NULL_BLOCK_ID: the block left out of the window) passes null segments:
    kvtier keeps that block trimmed (no bytes), and loads fill only the
    blocks of the window."""

    def __init__(self, store, kv_segments, group=0, kv_group_spec=None):
        self._window = check_kv_group_spec(kv_group_spec, group, store)
        if len(kv_segments) != store.segments_per_block:
            raise ValueError(f"kv_segments: {len(kv_segments)} given, the store's "
                             f"blocks have {store.segments_per_block} segments")
        self._store = store
        self._kv = list(kv_segments)
        self._group = group
        self._jobs = {}

    def _segments(self, block_ids):
        return [kv[b] for b in block_ids for kv in self._kv]

    def _save_segments(self, block_ids):
        if not self._window:
            return self._segments(block_ids)
        null = (0, self._store.segment_bytes)  # the engine no longer holds it
        return [null if b == NULL_BLOCK_ID else kv[b] for b in block_ids for kv in self._kv]

    def transfer_async(self, job_id, spec):
        src, dst = spec
        kinds = (src.medium(), dst.medium())
        try:
            if kinds == (MEDIUM, "GPU"):
                keys, ids = src.block_hashes, [int(b) for b in dst.block_ids]
                if len(ids) == src.skipped + len(keys):
                    ids = ids[src.skipped:]  # vLLM named the blocks before the window
                start = lambda chain: self._store.begin_load(chain, self._segments(ids),
                                                             lease=src.lease)
            elif kinds == ("GPU", MEDIUM):
                keys, ids = dst.block_hashes, [int(b) for b in src.block_ids]
                start = lambda chain: self._store.begin_save(chain, self._save_segments(ids))
            else:
                return False
            if len(keys) != len(ids) or job_id in self._jobs:
                return False
            chain = self._store.engine_key_chain(keys, profile="vllm", group=self._group)
            moved = sum(1 for b in ids if not (self._window and b == NULL_BLOCK_ID))
            self._jobs[job_id] = _Job(start(chain), moved, kinds)
        except (Error, IndexError, ValueError):
            return False
        return True

    def get_finished(self):
        results = []
        for job_id, job in list(self._jobs.items()):
            if not job.transfer.done():
                continue
            ok = job.succeeded()
            job.transfer.close()
            del self._jobs[job_id]
            size = job.blocks * self._store.block_bytes if ok else None
            results.append(TransferResult(job_id=job_id, success=ok, transfer_size=size,
                                          transfer_type=job.transfer_type))
        return results

    def wait(self, job_ids):
        for job_id in job_ids:
            job = self._jobs.get(job_id)
            if job is not None:
                job.transfer.wait()

    def shutdown(self):
        for job in self._jobs.values():
            job.transfer.cancel()
            job.transfer.close()
        self._jobs.clear()


def split_offload_key(key):
    """vLLM's OffloadKey -> (block hash, KV-group index)."""
    key = bytes(key)
    return key[:-4], int.from_bytes(key[-4:], "big", signed=False)


class KvtierSecondaryTier(_TierBase):
    """The tiering spec's SecondaryTierManager over a kvtier.Store.

    primary_kv_view: the CPU tier's KV, slot i at bytes [i * block_bytes,
    (i + 1) * block_bytes), block_bytes the store's. `store`: the kvtier.Store
    (default: opened from the spec's extra_config["kvtier"] options).
    lookup answers None while a job of this tier holds the key, until
    get_finished has reported that job."""

    def __init__(self, offloading_spec, primary_kv_view, tier_type, store=None):
        if _TierBase is not object:
            super().__init__(offloading_spec, primary_kv_view, tier_type)
        from .store import Store
        self._primary = memoryview(primary_kv_view).cast("B")
        self.tier_type = tier_type
        self._store = store if store is not None else Store(
            offloading_spec.extra_config["kvtier"])
        self._busy = {}  # key -> jobs holding it
        self._jobs = {}  # job id -> (transfers, keys)

    def _chain(self, hashes, group):
        return self._store.engine_key_chain(hashes, profile="vllm", group=group)

    def _segments(self, block_ids):
        seg, per_block = self._store.segment_bytes, self._store.segments_per_block
        return [self._primary[(b * per_block + s) * seg:(b * per_block + s + 1) * seg]
                for b in block_ids for s in range(per_block)]

    def lookup(self, key, req_context):
        key = bytes(key)
        if key in self._busy:
            return None
        block_hash, group = split_offload_key(key)
        return self._store.lookup(self._chain([block_hash], group)) == 1

    def _by_group(self, keys, block_ids):
        groups = {}
        for key, block_id in zip(keys, block_ids):
            block_hash, group = split_offload_key(key)
            hashes, ids = groups.setdefault(group, ([], []))
            hashes.append(block_hash)
            ids.append(int(block_id))
        return groups

    def _submit(self, job_id, keys, block_ids, begin):
        transfers = [] if len(keys) == len(block_ids) else [None]
        try:
            for group, (hashes, ids) in self._by_group(keys, block_ids).items():
                transfers.append(begin(self._chain(hashes, group), self._segments(ids)))
        except (Error, ValueError):
            transfers.append(None)  # reported as a failed job
        for key in keys:
            self._busy[key] = self._busy.get(key, 0) + 1
        self._jobs[job_id] = (transfers, keys)

    def submit_store(self, job_metadata):
        keys = [bytes(k) for k in job_metadata.keys]
        pairs = [(k, b) for k, b in zip(keys, job_metadata.block_ids)
                 if k not in self._busy and not self.lookup(k, None)]
        self._submit(job_metadata.job_id, [k for k, _ in pairs], [b for _, b in pairs],
                     self._store.begin_save)

    def submit_load(self, job_metadata):
        keys = [bytes(k) for k in job_metadata.keys]
        self._submit(job_metadata.job_id, keys, list(job_metadata.block_ids),
                     self._store.begin_load)

    def get_finished(self):
        results = []
        for job_id, (transfers, keys) in list(self._jobs.items()):
            if any(t is not None and not t.done() for t in transfers):
                continue
            ok = all(t is not None and _all_done(t) for t in transfers)
            for t in transfers:
                if t is not None:
                    t.close()
            for key in keys:
                left = self._busy.pop(key) - 1
                if left:
                    self._busy[key] = left
            del self._jobs[job_id]
            results.append(JobResult(job_id=job_id, success=ok))
        return results

    def touch(self, keys, req_context):
        return  # kvtier tracks recency on its own loads and saves

    def request_finished(self, req_context):
        return

    def shutdown(self):
        for transfers, _ in self._jobs.values():
            for t in transfers:
                if t is not None:
                    t.cancel()
                    t.close()
        self._jobs.clear()
        self._busy.clear()


def _all_done(transfer):
    return all(transfer.outcome(b) == "done" for b in range(len(transfer)))


# The same interfaces on the scheduler/worker split (one worker per rank).
from .vllm_split import (KvtierSplitLoadStoreSpec, KvtierSplitOffloadingHandler,  # noqa: E402
                         KvtierSplitOffloadingManager)
