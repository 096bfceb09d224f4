"""Store: kvtier's block store over the C API (see kvtier/store.h).

Every call that copies bytes or does I/O (hash_chain, lookup, load, save,
prefetch waits, flush) goes through ctypes.CDLL, which releases the GIL for
the call's duration, so other Python threads run meanwhile.

Segments (load, save, their begin_ forms): one buffer of whole blocks, or a
list with one entry per segment: a buffer (numpy array, bytearray, ...) or
a (pointer, size) pair for host memory; an object exposing
__cuda_array_interface__ (a torch or CuPy tensor on the GPU, C-contiguous)
or a (pointer, size, True) triple for CUDA memory on the options'
gpu_device. A store that cannot copy device memory (no GPU, or built
without CUDA) raises NOT_SUPPORTED naming the segment, before touching it.
(0, size) is a null segment: a sliding-window segment the engine freed,
accepted by save only.
"""
import ctypes

from . import _capi
from .errors import Error, INVALID_ARGUMENT
from .options import LOG_LEVELS, Options
from .request_context import RequestContext
from .transfer import Transfer

_LEVEL_NAMES = {v: k for k, v in LOG_LEVELS.items()}
_TIERS = {"gpu": 0, "host": 1, "nvme": 2, "remote": 3}


def _check(code, err):
    if code != 0:
        raise Error(code, err.message.decode(errors="replace"))


def _context(context):
    """The C struct of a RequestContext, or None (no context)."""
    if context is None:
        return None
    if not isinstance(context, RequestContext):
        raise TypeError("context: a kvtier.RequestContext or None, not "
                        + type(context).__name__)
    return ctypes.byref(context._c())


class Chain:
    """Block hashes of one prompt (kvtier_block_hash[]); slice it like a list."""

    def __init__(self, hashes):
        self._hashes = hashes

    def __len__(self):
        return len(self._hashes)

    def __getitem__(self, index):
        if isinstance(index, slice):
            picked = self._hashes[index]
            arr = (_capi.BlockHash * len(picked))(*picked)
            return Chain(arr)
        h = self._hashes[index]
        return (h.lo, h.hi)

    def _ptr(self):
        return ctypes.cast(self._hashes, ctypes.POINTER(_capi.BlockHash))


def engine_key_chain(call, handle, keys, profile, group):
    """The Chain `call` (kvtier_engine_key_chain or the scheduler's) maps
    `keys` to."""
    if profile not in _capi.KEY_PROFILES:
        raise Error(INVALID_ARGUMENT, f"profile: {profile!r} is not one of "
                    f"{sorted(_capi.KEY_PROFILES)}")
    blobs = [k.encode() if isinstance(k, str) else bytes(k) for k in keys]
    sizes = (ctypes.c_size_t * len(blobs))(*[len(b) for b in blobs])
    joined = b"".join(blobs)
    hashes = (_capi.BlockHash * len(blobs))()
    err = _capi.Error()
    _check(call(handle, _capi.KEY_PROFILES[profile], group, joined, len(joined), sizes,
                len(blobs), hashes, len(blobs), ctypes.byref(err)), err)
    return Chain(hashes)


class Prefetch:
    """A prefetch in flight: done() polls, wait() blocks (GIL released)."""

    def __init__(self, handle):
        self._handle = ctypes.c_void_p(handle)

    def done(self):
        return bool(_capi.lib.kvtier_prefetch_done(self._handle))

    def wait(self):
        return _capi.lib.kvtier_prefetch_wait(self._handle)

    def __del__(self):
        if getattr(self, "_handle", None) and _capi is not None:
            _capi.lib.kvtier_prefetch_release(self._handle)
            self._handle = None


def _cuda_memory(obj, where):
    """(pointer, bytes) of a C-contiguous object exposing
    __cuda_array_interface__ (a torch or CuPy tensor on the GPU)."""
    iface = obj.__cuda_array_interface__
    shape = tuple(iface["shape"])
    itemsize = int(iface["typestr"][2:])
    strides = iface.get("strides")
    if strides is not None:
        want, step = [], itemsize
        for n in reversed(shape):
            want.insert(0, step)
            step *= n
        if tuple(strides) != tuple(want):
            raise Error(INVALID_ARGUMENT, f"{where}: device memory not C-contiguous "
                                          f"(strides {tuple(strides)})")
    size = itemsize
    for n in shape:
        size *= n
    return int(iface["data"][0] or 0), size


class _Segments:
    """kvtier_segment[] over the caller's memory, with the buffers held."""

    def __init__(self, memory, count, seg_bytes, writable):
        self._views = []
        self.count = count
        self.array = (_capi.Segment * count)()
        if count == 0:
            return
        try:
            self._fill(memory, count, seg_bytes, writable)
        except BaseException:
            self.release()
            raise

    def _borrow(self, obj, writable):
        try:
            view = _capi.get_buffer(obj, writable)
        except (BufferError, TypeError) as e:  # read-only, not contiguous, not a buffer
            raise Error(INVALID_ARGUMENT, f"segments: {type(obj).__name__}: {e}") from None
        self._views.append(view)
        return view.buf, view.len

    def _item(self, item, writable, i):
        """(pointer, size, device) of one segment."""
        if isinstance(item, tuple) and len(item) in (2, 3) and all(
                isinstance(v, (int, bool)) for v in item):
            # (pointer, size[, device]): an engine tensor's memory
            return item[0], item[1], 1 if len(item) == 3 and item[2] else 0
        if hasattr(item, "__cuda_array_interface__"):
            return _cuda_memory(item, f"segments[{i}]") + (1,)
        return self._borrow(item, writable) + (0,)

    def _fill(self, memory, count, seg_bytes, writable):
        if isinstance(memory, (list, tuple)):
            if len(memory) != count:
                raise Error(INVALID_ARGUMENT, f"segments: {len(memory)} given, "
                                              f"expected {count}")
            for i, item in enumerate(memory):
                self.array[i] = _capi.Segment(*self._item(item, writable, i))
            return
        if hasattr(memory, "__cuda_array_interface__"):  # one contiguous device buffer
            (ptr, size), device = _cuda_memory(memory, "segments"), 1
        else:
            (ptr, size), device = self._borrow(memory, writable), 0  # one contiguous buffer
        if size != count * seg_bytes:
            raise Error(INVALID_ARGUMENT, f"segments: a buffer of {size} bytes, expected "
                                          f"{count} segments x {seg_bytes} bytes")
        for i in range(count):
            self.array[i] = _capi.Segment(ptr + i * seg_bytes, seg_bytes, device)

    def release(self):
        for view in self._views:
            _capi.release_buffer(view)
        self._views = []


class MetricsServer:
    """Serves the store's metrics (Prometheus text) on 127.0.0.1:port."""

    def __init__(self, store, handle):
        self._store = store  # the server borrows it: keep it alive
        self._handle = ctypes.c_void_p(handle)
        self.port = _capi.lib.kvtier_metrics_server_port(self._handle)

    def stop(self):
        if self._handle:
            _capi.lib.kvtier_metrics_server_stop(self._handle)
            self._handle = None

    def __del__(self):
        self.stop()


class Store:
    """An open kvtier store. Thread-safe; close() (or `with`) releases it.

    Store(options=None, config_file=None, env=False, **kwargs): an Options, a
    dict or keyword arguments (see kvtier.Options), then a JSON config file
    and the KVTIER_* environment variables applied over them
    (include/kvtier/config.h). `log`, if given, is called as log(level,
    message) with level one of "debug", "info", "warning", "error".
    """

    def __init__(self, options=None, config_file=None, env=False, **kwargs):
        if not isinstance(options, Options):
            options = Options(options, **kwargs)
        elif kwargs:
            raise Error(INVALID_ARGUMENT, "options: pass an Options or keywords, not both")
        self._servers = []
        self.options = options
        c, self._keep = options.to_c()
        log = options.get("log")
        if log is not None:
            def trampoline(_user, level, message):
                try:
                    log(_LEVEL_NAMES.get(level, str(level)), message.decode(errors="replace"))
                except Exception:  # never raise into C
                    pass
            self._log = _capi.LOG_FN(trampoline)
            c.log = self._log
        handle = ctypes.c_void_p()
        err = _capi.Error()
        if config_file is None and not env:
            code = _capi.lib.kvtier_open(ctypes.byref(c), ctypes.byref(handle),
                                         ctypes.byref(err))
        else:
            code = _capi.lib.kvtier_open_configured(
                ctypes.byref(c), None if config_file is None else str(config_file).encode(),
                _capi.CONFIG_ENV if env else 0, ctypes.byref(handle), ctypes.byref(err))
        _check(code, err)
        self._store = handle
        self.segment_bytes = _capi.lib.kvtier_segment_bytes(handle)
        self.segments_per_block = _capi.lib.kvtier_segments_per_block(handle)
        self.block_tokens = c.block_tokens
        self.block_bytes = self.segment_bytes * self.segments_per_block

    # -- lifetime --------------------------------------------------------
    def close(self):
        for server in getattr(self, "_servers", []):
            server.stop()
        self._servers = []
        if getattr(self, "_store", None):
            _capi.lib.kvtier_close(self._store)
            self._store = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _handle(self):
        if not self._store:
            raise Error(INVALID_ARGUMENT, "store: closed")
        return self._store

    # -- calls -----------------------------------------------------------
    def hash_chain(self, tokens, n_blocks=None):
        """Hashes of the full blocks of `tokens` (a list of ints or any uint32
        buffer); n_blocks defaults to all full blocks."""
        if isinstance(tokens, (list, tuple, range)):
            arr = (ctypes.c_uint32 * len(tokens))(*tokens)
            ptr, n_tokens, view = ctypes.cast(arr, ctypes.POINTER(ctypes.c_uint32)), len(arr), None
        else:
            view = _capi.get_buffer(tokens, False)
            if view.len % 4:
                _capi.release_buffer(view)
                raise Error(INVALID_ARGUMENT, "tokens: not a whole number of uint32")
            ptr = ctypes.cast(view.buf, ctypes.POINTER(ctypes.c_uint32))
            n_tokens = view.len // 4
        try:
            if n_blocks is None:
                n_blocks = n_tokens // self.block_tokens
            hashes = (_capi.BlockHash * n_blocks)()
            err = _capi.Error()
            _check(_capi.lib.kvtier_hash_chain(self._handle(), ptr, n_tokens, hashes,
                                               n_blocks, ctypes.byref(err)), err)
            return Chain(hashes)
        finally:
            if view is not None:
                _capi.release_buffer(view)

    def engine_key_chain(self, keys, profile="vllm", group=0):
        """The chain naming blocks by the engine's own keys, in prefix order
        (kvtier/engine_keys.h): vLLM's block hashes (bytes), SGLang's page
        hashes (str) or any bytes (profile "bytes"). `group`: vLLM's KV-cache
        group or SGLang's pool index. Pass the chain to lookup, load, save
        and erase as hash_chain's."""
        return engine_key_chain(_capi.lib.kvtier_engine_key_chain, self._handle(), keys,
                                profile, group)

    def lookup(self, chain):
        """Blocks in the longest prefix of `chain` that load() would serve now."""
        hit = ctypes.c_size_t()
        err = _capi.Error()
        _check(_capi.lib.kvtier_lookup(self._handle(), chain._ptr(), len(chain),
                                       ctypes.byref(hit), ctypes.byref(err)), err)
        return hit.value

    def lookup_and_lease(self, chain, lease_ms):
        """lookup() that also pins the prefix for up to lease_ms (1..60000) so a
        load(..., lease=) soon after serves all of it. Returns (blocks, lease);
        lease 0 when nothing was pinned."""
        hit, lease = ctypes.c_size_t(), ctypes.c_uint64()
        err = _capi.Error()
        _check(_capi.lib.kvtier_lookup_and_lease(
            self._handle(), chain._ptr(), len(chain), lease_ms, ctypes.byref(hit),
            ctypes.byref(lease), ctypes.byref(err)), err)
        return hit.value, lease.value

    def release_lease(self, lease):
        """Ends a lease without loading; False when it had already ended."""
        released = ctypes.c_int()
        err = _capi.Error()
        _check(_capi.lib.kvtier_release_lease(self._handle(), lease, ctypes.byref(released),
                                              ctypes.byref(err)), err)
        return bool(released.value)

    def load(self, chain, dst, lease=0, context=None):
        """Writes a prefix of `chain` into dst: one writable buffer of
        len(chain) blocks (numpy array, bytearray, memoryview...), or a list of
        segments (buffers or (pointer, size) pairs). `lease`: from
        lookup_and_lease. `context`: the request's RequestContext (None:
        unknown). Returns blocks loaded."""
        c = _context(context)
        segs = _Segments(dst, len(chain) * self.segments_per_block, self.segment_bytes,
                         writable=True)
        try:
            loaded = ctypes.c_size_t()
            err = _capi.Error()
            _check(_capi.lib.kvtier_load_in_context(
                self._handle(), chain._ptr(), len(chain), segs.array, segs.count, lease, c,
                ctypes.byref(loaded), ctypes.byref(err)), err)
            return loaded.value
        finally:
            segs.release()

    def begin_load(self, chain, dst, lease=0):
        """load(), asynchronously: returns a Transfer at once; dst stays held
        until it is done."""
        segs = _Segments(dst, len(chain) * self.segments_per_block, self.segment_bytes,
                         writable=True)
        return self._start(segs, lambda out, err: _capi.lib.kvtier_load_start(
            self._handle(), chain._ptr(), len(chain), segs.array, segs.count, lease, out, err))

    def begin_save(self, chain, src, first_block=0):
        """save(), asynchronously: the Transfer is done once src has been read."""
        blocks = len(chain) - first_block if first_block <= len(chain) else 0
        segs = _Segments(src, blocks * self.segments_per_block, self.segment_bytes,
                         writable=False)
        return self._start(segs, lambda out, err: _capi.lib.kvtier_save_start(
            self._handle(), chain._ptr(), len(chain), first_block, segs.array, segs.count,
            out, err))

    def _start(self, segs, start):
        handle = ctypes.c_void_p()
        err = _capi.Error()
        try:
            _check(start(ctypes.byref(handle), ctypes.byref(err)), err)
        except BaseException:
            segs.release()
            raise
        return Transfer(handle.value, segs, self)

    def save(self, chain, src, first_block=0, context=None):
        """Stores blocks first_block.. of `chain` from src (as load's dst, but
        read-only buffers are fine). `context`: as load's (a request's load
        and save should carry the same). Returns blocks stored for the first
        time."""
        c = _context(context)
        blocks = len(chain) - first_block if first_block <= len(chain) else 0
        segs = _Segments(src, blocks * self.segments_per_block, self.segment_bytes,
                         writable=False)
        try:
            stored = ctypes.c_size_t()
            err = _capi.Error()
            _check(_capi.lib.kvtier_save_in_context(
                self._handle(), chain._ptr(), len(chain), first_block, segs.array,
                segs.count, c, ctypes.byref(stored), ctypes.byref(err)), err)
            return stored.value
        finally:
            segs.release()

    def prefetch(self, chain):
        """Starts moving NVMe-only blocks of the prefix up to host; a Prefetch."""
        handle = ctypes.c_void_p()
        err = _capi.Error()
        _check(_capi.lib.kvtier_prefetch_start(self._handle(), chain._ptr(), len(chain),
                                               ctypes.byref(handle), ctypes.byref(err)),
               err)
        return Prefetch(handle.value)

    def erase(self, chain):
        """Removes the blocks of `chain` and every block stored below them from
        every tier, durably; returns blocks removed. Pass a tail (chain[k:]) to
        keep the prefix it shares."""
        erased = ctypes.c_size_t()
        err = _capi.Error()
        _check(_capi.lib.kvtier_erase(self._handle(), chain._ptr(), len(chain),
                                      ctypes.byref(erased), ctypes.byref(err)), err)
        return erased.value

    def shadow_sampled(self, chain):
        """Shadow verification (option shadow.sample_rate): indices into
        `chain` of the blocks a load sampled and the store still holds; pass
        each one's recomputation to shadow_verify."""
        count = ctypes.c_size_t()
        err = _capi.Error()
        while True:
            capacity = count.value
            out = (ctypes.c_size_t * max(capacity, 1))()
            _check(_capi.lib.kvtier_shadow_sampled(self._handle(), chain._ptr(), len(chain),
                                                   out, capacity, ctypes.byref(count),
                                                   ctypes.byref(err)), err)
            if count.value <= capacity:
                return list(out[:count.value])

    def shadow_verify(self, chain, index, recomputed):
        """Compares the engine's recomputation of block chain[index] (one
        block, as load's dst) with what the store served it; counted on the
        serving tier. Returns {"diverged": bool, "tier": name, "relative_rms":
        float}. kvtier.Error NOT_FOUND when that block is not sampled."""
        segs = _Segments(recomputed, self.segments_per_block, self.segment_bytes,
                         writable=False)
        try:
            block = chain[index:index + 1] if index >= 0 else chain[index:][:1]
            diverged, tier, rms = ctypes.c_int(), ctypes.c_int(), ctypes.c_double()
            err = _capi.Error()
            _check(_capi.lib.kvtier_shadow_verify(self._handle(), block._ptr(), segs.array,
                                                  segs.count, ctypes.byref(diverged),
                                                  ctypes.byref(tier), ctypes.byref(rms),
                                                  ctypes.byref(err)), err)
            names = {v: k for k, v in _TIERS.items()}
            return {"diverged": bool(diverged.value), "tier": names[tier.value],
                    "relative_rms": rms.value}
        finally:
            segs.release()

    def clear(self):
        """Erases every block of the store's namespace; returns blocks removed."""
        erased = ctypes.c_size_t()
        err = _capi.Error()
        _check(_capi.lib.kvtier_clear(self._handle(), ctypes.byref(erased),
                                      ctypes.byref(err)), err)
        return erased.value

    def flush(self):
        err = _capi.Error()
        _check(_capi.lib.kvtier_flush(self._handle(), ctypes.byref(err)), err)

    def metrics_text(self):
        """Every counter and histogram in the Prometheus text format."""
        needed = ctypes.c_size_t(0)
        err = _capi.Error()
        while True:
            buf = ctypes.create_string_buffer(max(needed.value, 1))
            code = _capi.lib.kvtier_metrics_text(self._handle(), buf, len(buf),
                                                 ctypes.byref(needed), ctypes.byref(err))
            if code != 4:  # RESOURCE_EXHAUSTED: the text grew; again, larger
                _check(code, err)
                return buf.value.decode()

    def serve_metrics(self, port=0):
        """Starts an HTTP endpoint on 127.0.0.1:port (0 = a free one; see
        .port) serving metrics_text(); stopped by .stop() or close()."""
        handle = ctypes.c_void_p()
        err = _capi.Error()
        _check(_capi.lib.kvtier_metrics_server_start(self._handle(), port,
                                                     ctypes.byref(handle),
                                                     ctypes.byref(err)), err)
        server = MetricsServer(self, handle.value)
        self._servers.append(server)
        return server

    def stats(self):
        """Every counter as a dict: {"host": {...}, "nvme": {...}, "gpu": {...}, "remote": {...},
        "nvme_engine": {...}, "calls": {...}}."""
        err = _capi.Error()
        out = {}
        for name, tier in _TIERS.items():
            s = _capi.TierStats(struct_size=ctypes.sizeof(_capi.TierStats))
            _check(_capi.lib.kvtier_tier_stats_get(self._handle(), tier, ctypes.byref(s),
                                                   ctypes.byref(err)), err)
            out[name] = {f: getattr(s, f) for f in _capi.TIER_FIELDS}
            out[name]["enabled"] = bool(out[name]["enabled"])
        n = _capi.NvmeStats(struct_size=ctypes.sizeof(_capi.NvmeStats))
        _check(_capi.lib.kvtier_nvme_stats_get(self._handle(), ctypes.byref(n),
                                               ctypes.byref(err)), err)
        out["nvme_engine"] = {f: getattr(n, f) for f in _capi.NVME_FIELDS}
        c = _capi.CallStats(struct_size=ctypes.sizeof(_capi.CallStats))
        _check(_capi.lib.kvtier_call_stats_get(self._handle(), ctypes.byref(c),
                                               ctypes.byref(err)), err)
        out["calls"] = {f: getattr(c, f) for f in _capi.CALL_FIELDS}
        return out
