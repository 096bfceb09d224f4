"""Scheduler and workers in separate processes (include/kvtier/split.h).

The engine's scheduler process holds a Scheduler (index, eviction; no KV
bytes); each tensor-parallel rank's worker process holds a Worker (its own
host arena and NVMe directory). Byte strings travel between them through
the engine (vLLM: the per-step connector metadata and KVConnectorOutput):

    scheduler = kvtier.split.Scheduler(options, ranks=2)
    worker = kvtier.split.Worker(options_for_rank)        # in each worker
    worker.apply_join(scheduler.join(worker.hello()))
    plan = scheduler.plan_load(chain)                     # a Plan; bytes to ship
    result = worker.execute(plan.bytes, kv_segments)      # in every worker
    blocks, ranks_failed = scheduler.commit(plan.ticket, [result0, result1])

A block counts only if every rank succeeded; a rank whose result is missing
(its worker gone) failed. Chains are rank-free: a kvtier.Chain or a list of
(lo, hi) pairs. Segments: a list (one per segment of each block the plan
names, block-major) of writable buffers or (pointer, size) pairs, host
memory only (device memory is NOT_SUPPORTED on the split); in a save,
(0, size) for a sliding-window segment of a block plan_save was told the
engine freed (freed=), as Store.save accepts.
"""
import ctypes
from collections import namedtuple

from . import _capi
from .errors import Error, INVALID_ARGUMENT
from .options import Options
from .store import Chain, _Segments, _check, engine_key_chain

Plan = namedtuple("Plan", ["ticket", "kind", "blocks", "bytes"])
_KINDS = {0: "load", 1: "save", 2: "write_down"}


def _take(b):
    """Copies kvtier_bytes into Python bytes and frees them."""
    try:
        return ctypes.string_at(b.data, b.size) if b.size else b""
    finally:
        _capi.lib.kvtier_bytes_free(ctypes.byref(b))


def _take_plan(p):
    return Plan(p.ticket, _KINDS.get(p.kind, p.kind), p.blocks, _take(p.bytes))


def _chain(chain):
    if isinstance(chain, Chain):
        return chain._ptr(), len(chain)
    pairs = list(chain)
    arr = (_capi.BlockHash * len(pairs))(*[_capi.BlockHash(lo, hi) for lo, hi in pairs])
    return ctypes.cast(arr, ctypes.POINTER(_capi.BlockHash)), len(pairs)


def _options(options, kwargs):
    if not isinstance(options, Options):
        return Options(options, **kwargs)
    if kwargs:
        raise Error(INVALID_ARGUMENT, "options: pass an Options or keywords, not both")
    return options


class Scheduler:
    """The scheduler side. Thread-safe."""

    def __init__(self, options=None, ranks=1, **kwargs):
        self.options = _options(options, kwargs)
        c, self._keep = self.options.to_c()
        self.block_tokens = c.block_tokens
        handle = ctypes.c_void_p()
        err = _capi.Error()
        _check(_capi.lib.kvtier_scheduler_open(ctypes.byref(c), ranks,
                                               ctypes.byref(handle), ctypes.byref(err)), err)
        self._h = handle

    def close(self):
        if getattr(self, "_h", None):
            _capi.lib.kvtier_scheduler_close(self._h)
            self._h = None

    __del__ = close

    def join(self, hello):
        out, err = _capi.Bytes(), _capi.Error()
        _check(_capi.lib.kvtier_scheduler_join(self._h, bytes(hello), len(hello),
                                               ctypes.byref(out), ctypes.byref(err)), err)
        return _take(out)

    def ready(self):
        return bool(_capi.lib.kvtier_scheduler_ready(self._h))

    def engine_key_chain(self, keys, profile="vllm", group=0):
        """Store.engine_key_chain for the split: the chain a rank-0 Store of
        these options names (chains are rank-free)."""
        return engine_key_chain(_capi.lib.kvtier_scheduler_engine_key_chain, self._h, keys,
                                profile, group)

    def lookup(self, chain):
        ptr, n = _chain(chain)
        hit, err = ctypes.c_size_t(), _capi.Error()
        _check(_capi.lib.kvtier_scheduler_lookup(self._h, ptr, n, ctypes.byref(hit),
                                                 ctypes.byref(err)), err)
        return hit.value

    def plan_load(self, chain):
        ptr, n = _chain(chain)
        p, err = _capi.Plan(), _capi.Error()
        _check(_capi.lib.kvtier_scheduler_plan_load(self._h, ptr, n, ctypes.byref(p),
                                                    ctypes.byref(err)), err)
        return _take_plan(p)

    def plan_save(self, chain, first_block=0, freed=None):
        """freed: per block from first_block, true where the engine no longer
        holds the block's sliding-window segments (vLLM's null block): kept
        trimmed, and the workers may pass those segments as (0, size)."""
        ptr, n = _chain(chain)
        mask = bytes(1 if f else 0 for f in freed) if freed is not None else b""
        p, err = _capi.Plan(), _capi.Error()
        _check(_capi.lib.kvtier_scheduler_plan_save(self._h, ptr, n, first_block,
                                                    mask or None, len(mask),
                                                    ctypes.byref(p), ctypes.byref(err)), err)
        return _take_plan(p)

    def take_write_down(self, max_blocks=64):
        """One write-down Plan (ticket 0 when none is owed)."""
        p, err = _capi.Plan(), _capi.Error()
        _check(_capi.lib.kvtier_scheduler_take_write_down(self._h, max_blocks,
                                                          ctypes.byref(p),
                                                          ctypes.byref(err)), err)
        return _take_plan(p)

    def commit(self, ticket, results):
        """Commits with the result bytes of the ranks that answered; returns
        (blocks, ranks_failed)."""
        results = [bytes(r) for r in results]
        ptrs = (ctypes.c_char_p * len(results))(*results)
        sizes = (ctypes.c_size_t * len(results))(*[len(r) for r in results])
        blocks, failed, err = ctypes.c_size_t(), ctypes.c_size_t(), _capi.Error()
        _check(_capi.lib.kvtier_scheduler_commit(self._h, ticket, ptrs, sizes, len(results),
                                                 ctypes.byref(blocks), ctypes.byref(failed),
                                                 ctypes.byref(err)), err)
        return blocks.value, failed.value


def result_moves(result):
    """(moves, failed) of one rank's result bytes: failed == 0 when this
    rank did everything its plan asked. Scheduler.commit still decides what
    counts (every rank must succeed)."""
    moves, failed, err = ctypes.c_size_t(), ctypes.c_size_t(), _capi.Error()
    result = bytes(result)
    _check(_capi.lib.kvtier_worker_result_moves(result, len(result), ctypes.byref(moves),
                                                ctypes.byref(failed), ctypes.byref(err)), err)
    return moves.value, failed.value


class Worker:
    """One rank's worker. Thread-safe; executes one plan at a time."""

    def __init__(self, options=None, **kwargs):
        self.options = _options(options, kwargs)
        c, self._keep = self.options.to_c()
        self.block_tokens = c.block_tokens
        handle = ctypes.c_void_p()
        err = _capi.Error()
        _check(_capi.lib.kvtier_worker_open(ctypes.byref(c), ctypes.byref(handle),
                                            ctypes.byref(err)), err)
        self._h = handle

    def close(self):
        if getattr(self, "_h", None):
            _capi.lib.kvtier_worker_close(self._h)
            self._h = None

    __del__ = close

    def hello(self):
        out, err = _capi.Bytes(), _capi.Error()
        _check(_capi.lib.kvtier_worker_hello(self._h, ctypes.byref(out), ctypes.byref(err)),
               err)
        return _take(out)

    def apply_join(self, reply):
        err = _capi.Error()
        _check(_capi.lib.kvtier_worker_apply_join(self._h, bytes(reply), len(reply),
                                                  ctypes.byref(err)), err)

    def execute(self, plan, segments=()):
        """Runs plan bytes; `segments` as in the module docstring. Returns the
        result bytes for Scheduler.commit."""
        segments = list(segments or ())
        segs = _Segments(segments, len(segments), 0, writable=True)
        try:
            out, err = _capi.Bytes(), _capi.Error()
            _check(_capi.lib.kvtier_worker_execute(self._h, bytes(plan), len(plan),
                                                   segs.array, segs.count, ctypes.byref(out),
                                                   ctypes.byref(err)), err)
            return _take(out)
        finally:
            segs.release()
