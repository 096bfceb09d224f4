"""ctypes declarations of kvtier_c.h (the C API) and how libkvtier.so is found.

The library is looked up, in order: $KVTIER_LIBRARY (a path); the path the
build or install wrote into _location.py; ctypes.util.find_library("kvtier").
"""
import ctypes
import ctypes.util
import os

c_size_t = ctypes.c_size_t
c_uint32 = ctypes.c_uint32
c_uint64 = ctypes.c_uint64
c_int = ctypes.c_int
c_void_p = ctypes.c_void_p
c_char_p = ctypes.c_char_p

LOG_FN = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_char_p)


class Error(ctypes.Structure):
    _fields_ = [("message", ctypes.c_char * 512)]


class BlockHash(ctypes.Structure):
    _fields_ = [("lo", c_uint64), ("hi", c_uint64)]


class Segment(ctypes.Structure):
    _fields_ = [("data", c_void_p), ("bytes", c_size_t), ("device", c_int)]


class RequestContext(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("session_id", c_uint64),
                ("session_state", ctypes.c_int32), ("priority", ctypes.c_uint8),
                ("ttl_s", ctypes.c_double)]


class Bytes(ctypes.Structure):
    _fields_ = [("data", ctypes.POINTER(ctypes.c_uint8)), ("size", c_size_t)]


class Plan(ctypes.Structure):
    _fields_ = [("ticket", c_uint64), ("kind", c_int), ("blocks", c_size_t),
                ("bytes", Bytes)]


class Options(ctypes.Structure):
    _fields_ = [
        ("struct_size", c_size_t),
        ("num_layers", c_uint32),
        ("kv_heads", c_uint32),
        ("head_dim", c_uint32),
        ("dtype", c_int),
        ("block_tokens", c_uint32),
        ("parts_per_layer", c_uint32),
        ("layer_windows", ctypes.POINTER(c_uint32)),
        ("model_id", c_char_p),
        ("tenant_salt", c_char_p),
        ("rank", c_uint32),
        ("gpu_capacity_bytes", c_uint64),
        ("host_capacity_bytes", c_uint64),
        ("host_lock_memory", c_int),
        ("host_codec", c_int),
        ("nvme_capacity_bytes", c_uint64),
        ("swa_checkpoint_blocks", c_uint32),
        ("nvme_directories", ctypes.POINTER(c_char_p)),
        ("nvme_directory_count", c_size_t),
        ("nvme_queue_depth", c_uint32),
        ("nvme_write_policy", c_int),
        ("nvme_allow_buffered_io", c_int),
        ("nvme_wipe_on_mismatch", c_int),
        ("nvme_codec", c_int),
        ("nvme_write_queue_blocks", c_uint32),
        ("gpu_device", c_int),
        ("gpu_codec", c_int),
        ("eviction", c_int),
        ("log", LOG_FN),
        ("log_user_data", c_void_p),
        ("log_level", c_int),
        ("remote_endpoints", ctypes.POINTER(c_char_p)),
        ("remote_endpoint_count", c_size_t),
        ("remote_kind", c_int),
        ("remote_username", c_char_p),
        ("remote_password", c_char_p),
        ("remote_key_prefix", c_char_p),
        ("remote_checksum_key", c_char_p),
        ("remote_ttl_seconds", c_uint32),
        ("remote_queue_blocks", c_uint32),
        ("remote_exists_cache_ms", c_uint32),
        ("remote_tls_ca_file", c_char_p),
        ("remote_tls_ca_dir", c_char_p),
        ("remote_tls_cert_file", c_char_p),
        ("remote_tls_key_file", c_char_p),
        ("remote_tls_server_name", c_char_p),
        ("nvme_checksum_key", c_char_p),
        ("nvme_checksum_key_file", c_char_p),
        ("nvme_create_checksum_key_file", c_int),
        ("shadow_sample_rate", ctypes.c_double),
        ("shadow_max_pending_blocks", ctypes.c_uint32),
        ("load_cost_prefill_tokens_per_second", ctypes.c_double),
        ("load_cost_measurement_weight", ctypes.c_double),
    ]


def _u64_struct(name, fields, ints=()):
    f = [("struct_size", c_size_t)]
    for n in fields:
        f.append((n, c_int if n in ints else c_uint64))
    return type(name, (ctypes.Structure,), {"_fields_": f})


TIER_FIELDS = ["enabled", "codec", "capacity_bytes", "used_bytes", "slot_bytes", "blocks",
               "hits", "inserts", "evictions", "placement_evictions", "orphans_dropped",
               "rejected", "checksum_errors", "io_errors", "bytes_written", "bytes_read",
               "logical_bytes_written", "logical_bytes_read", "shadow_checked",
               "shadow_diverged"]
TierStats = _u64_struct("TierStats", TIER_FIELDS, ints=("enabled", "codec"))
NVME_FIELDS = ["io_uring", "fixed_buffers", "direct_io", "wiped_at_open",
               "recovered_blocks", "recovery_dropped", "recovery_micros", "full_events",
               "manifest_errors", "copy_down_blocks", "copy_down_dropped", "promotions"]
NvmeStats = _u64_struct("NvmeStats", NVME_FIELDS,
                        ints=("io_uring", "fixed_buffers", "direct_io", "wiped_at_open"))
CALL_FIELDS = ["lookups", "lookup_blocks", "lookup_hit_blocks", "loads", "load_blocks",
               "load_hit_blocks", "saves", "save_blocks", "save_new_blocks",
               "save_refreshed_blocks", "invalid_calls", "save_trimmed_blocks",
               "trim_bytes_saved", "save_upgraded_blocks", "host_memory_locked",
               "erased_blocks", "leases_granted", "leases_used", "leases_released",
               "leases_expired", "leases_active", "transfers_started",
               "transfers_cancelled", "shadow_sampled", "shadow_expired",
               "lookup_capped_blocks"]
CallStats = _u64_struct("CallStats", CALL_FIELDS, ints=("host_memory_locked",))


class VllmMmFeature(ctypes.Structure):
    _fields_ = [("identifier", c_char_p), ("identifier_len", c_size_t),
                ("offset", ctypes.c_int64), ("length", ctypes.c_int64)]


class VllmRequestKeys(ctypes.Structure):
    _fields_ = [("struct_size", c_size_t), ("has_lora", c_int), ("lora_name", c_char_p),
                ("lora_name_len", c_size_t), ("mm_features", ctypes.POINTER(VllmMmFeature)),
                ("mm_feature_count", c_size_t), ("cache_salt", c_char_p),
                ("cache_salt_len", c_size_t)]


KEY_PROFILES = {"bytes": 0, "vllm": 1, "sglang": 2}
VLLM_HASH_BYTES = 32
SGLANG_HASH_CHARS = 64


def _candidates():
    env = os.environ.get("KVTIER_LIBRARY")
    if env:
        yield env
    try:
        from . import _location
        here = os.path.dirname(os.path.abspath(__file__))
        yield os.path.normpath(os.path.join(here, _location.LIBRARY))
    except ImportError:
        pass
    found = ctypes.util.find_library("kvtier")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
    raise ImportError("kvtier: libkvtier.so not found (set KVTIER_LIBRARY, build with "
                      "scripts/setup.sh, or install with cmake --install); tried: " +
                      "; ".join(tried or ["nothing"]))


lib = _load()
P = ctypes.POINTER
_sigs = {
    "kvtier_version": (c_char_p, []),
    "kvtier_options_init_sized": (None, [P(Options), c_size_t]),
    "kvtier_open": (c_int, [P(Options), P(c_void_p), P(Error)]),
    "kvtier_close": (None, [c_void_p]),
    "kvtier_segment_bytes": (c_size_t, [c_void_p]),
    "kvtier_segments_per_block": (c_size_t, [c_void_p]),
    "kvtier_hash_chain": (c_int, [c_void_p, P(c_uint32), c_size_t, P(BlockHash), c_size_t,
                                  P(Error)]),
    "kvtier_lookup": (c_int, [c_void_p, P(BlockHash), c_size_t, P(c_size_t), P(Error)]),
    "kvtier_load": (c_int, [c_void_p, P(BlockHash), c_size_t, P(Segment), c_size_t,
                            P(c_size_t), P(Error)]),
    "kvtier_save": (c_int, [c_void_p, P(BlockHash), c_size_t, c_size_t, P(Segment),
                            c_size_t, P(c_size_t), P(Error)]),
    "kvtier_tier_stats_get": (c_int, [c_void_p, c_int, P(TierStats), P(Error)]),
    "kvtier_nvme_stats_get": (c_int, [c_void_p, P(NvmeStats), P(Error)]),
    "kvtier_call_stats_get": (c_int, [c_void_p, P(CallStats), P(Error)]),
    "kvtier_prefetch_start": (c_int, [c_void_p, P(BlockHash), c_size_t, P(c_void_p),
                                      P(Error)]),
    "kvtier_prefetch_done": (c_int, [c_void_p]),
    "kvtier_prefetch_wait": (c_size_t, [c_void_p]),
    "kvtier_prefetch_release": (None, [c_void_p]),
    "kvtier_flush": (c_int, [c_void_p, P(Error)]),
    "kvtier_erase": (c_int, [c_void_p, P(BlockHash), c_size_t, P(c_size_t), P(Error)]),
    "kvtier_shadow_sampled": (c_int, [c_void_p, P(BlockHash), c_size_t, P(c_size_t),
                                      c_size_t, P(c_size_t), P(Error)]),
    "kvtier_shadow_verify": (c_int, [c_void_p, P(BlockHash), P(Segment), c_size_t, P(c_int),
                                     P(c_int), P(ctypes.c_double), P(Error)]),
    "kvtier_lookup_and_lease": (c_int, [c_void_p, P(BlockHash), c_size_t, ctypes.c_uint32,
                                        P(c_size_t), P(c_uint64), P(Error)]),
    "kvtier_release_lease": (c_int, [c_void_p, c_uint64, P(c_int), P(Error)]),
    "kvtier_load_leased": (c_int, [c_void_p, P(BlockHash), c_size_t, P(Segment), c_size_t,
                                   c_uint64, P(c_size_t), P(Error)]),
    "kvtier_request_context_init": (None, [P(RequestContext)]),
    "kvtier_load_in_context": (c_int, [c_void_p, P(BlockHash), c_size_t, P(Segment),
                                       c_size_t, c_uint64, P(RequestContext), P(c_size_t),
                                       P(Error)]),
    "kvtier_save_in_context": (c_int, [c_void_p, P(BlockHash), c_size_t, c_size_t,
                                       P(Segment), c_size_t, P(RequestContext),
                                       P(c_size_t), P(Error)]),
    "kvtier_load_start": (c_int, [c_void_p, P(BlockHash), c_size_t, P(Segment), c_size_t,
                                  c_uint64, P(c_void_p), P(Error)]),
    "kvtier_save_start": (c_int, [c_void_p, P(BlockHash), c_size_t, c_size_t, P(Segment),
                                  c_size_t, P(c_void_p), P(Error)]),
    "kvtier_transfer_done": (c_int, [c_void_p]),
    "kvtier_transfer_wait": (c_size_t, [c_void_p]),
    "kvtier_transfer_layer_done": (c_int, [c_void_p, ctypes.c_uint32]),
    "kvtier_transfer_wait_layer": (c_size_t, [c_void_p, ctypes.c_uint32]),
    "kvtier_transfer_cancel": (None, [c_void_p]),
    "kvtier_transfer_block_count": (c_size_t, [c_void_p]),
    "kvtier_transfer_outcome": (c_int, [c_void_p, c_size_t]),
    "kvtier_transfer_release": (None, [c_void_p]),
    "kvtier_clear": (c_int, [c_void_p, P(c_size_t), P(Error)]),
    "kvtier_metrics_text": (c_int, [c_void_p, c_char_p, c_size_t, P(c_size_t), P(Error)]),
    "kvtier_metrics_server_start": (c_int, [c_void_p, ctypes.c_uint16, P(c_void_p),
                                            P(Error)]),
    "kvtier_metrics_server_port": (ctypes.c_uint16, [c_void_p]),
    "kvtier_metrics_server_stop": (None, [c_void_p]),
    "kvtier_open_configured": (c_int, [P(Options), c_char_p, c_int, P(c_void_p),
                                       P(Error)]),
    "kvtier_engine_key_chain": (c_int, [c_void_p, c_int, c_uint32, c_char_p, c_size_t,
                                        P(c_size_t), c_size_t, P(BlockHash), c_size_t,
                                        P(Error)]),
    "kvtier_vllm_none_hash": (c_int, [c_char_p, c_size_t, c_char_p, P(Error)]),
    "kvtier_vllm_block_hashes": (c_int, [c_char_p, c_uint32, P(c_uint32), c_size_t,
                                         P(VllmRequestKeys), c_char_p, c_size_t, c_char_p,
                                         c_size_t, P(c_size_t), P(Error)]),
    "kvtier_sglang_page_hashes": (c_int, [P(c_uint32), c_size_t, c_uint32, c_char_p,
                                          c_size_t, c_char_p, c_size_t, P(c_size_t),
                                          P(Error)]),
    "kvtier_bytes_free": (None, [P(Bytes)]),
    "kvtier_scheduler_open": (c_int, [P(Options), c_uint32, P(c_void_p), P(Error)]),
    "kvtier_scheduler_close": (None, [c_void_p]),
    "kvtier_scheduler_join": (c_int, [c_void_p, c_char_p, c_size_t, P(Bytes), P(Error)]),
    "kvtier_scheduler_ready": (c_int, [c_void_p]),
    "kvtier_scheduler_lookup": (c_int, [c_void_p, P(BlockHash), c_size_t, P(c_size_t),
                                        P(Error)]),
    "kvtier_scheduler_engine_key_chain": (c_int, [c_void_p, c_int, c_uint32, c_char_p,
                                                  c_size_t, P(c_size_t), c_size_t,
                                                  P(BlockHash), c_size_t, P(Error)]),
    "kvtier_scheduler_plan_load": (c_int, [c_void_p, P(BlockHash), c_size_t, P(Plan),
                                           P(Error)]),
    "kvtier_scheduler_plan_save": (c_int, [c_void_p, P(BlockHash), c_size_t, c_size_t,
                                           c_char_p, c_size_t, P(Plan), P(Error)]),
    "kvtier_scheduler_take_write_down": (c_int, [c_void_p, c_size_t, P(Plan), P(Error)]),
    "kvtier_scheduler_commit": (c_int, [c_void_p, c_uint64, P(c_char_p), P(c_size_t),
                                        c_size_t, P(c_size_t), P(c_size_t), P(Error)]),
    "kvtier_worker_open": (c_int, [P(Options), P(c_void_p), P(Error)]),
    "kvtier_worker_close": (None, [c_void_p]),
    "kvtier_worker_hello": (c_int, [c_void_p, P(Bytes), P(Error)]),
    "kvtier_worker_apply_join": (c_int, [c_void_p, c_char_p, c_size_t, P(Error)]),
    "kvtier_worker_execute": (c_int, [c_void_p, c_char_p, c_size_t, P(Segment), c_size_t,
                                      P(Bytes), P(Error)]),
    "kvtier_worker_result_moves": (c_int, [c_char_p, c_size_t, P(c_size_t), P(c_size_t),
                                           P(Error)]),
}
CONFIG_ENV = 1
for _name, (_res, _args) in _sigs.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args


# Py_buffer (CPython's buffer protocol, stable layout) to borrow the memory
# of any buffer-protocol object without copying it.
class PyBuffer(ctypes.Structure):
    _fields_ = [("buf", c_void_p), ("obj", c_void_p), ("len", ctypes.c_ssize_t),
                ("itemsize", ctypes.c_ssize_t), ("readonly", c_int), ("ndim", c_int),
                ("format", c_char_p), ("shape", c_void_p), ("strides", c_void_p),
                ("suboffsets", c_void_p), ("internal", c_void_p)]


PyBUF_SIMPLE = 0
PyBUF_WRITABLE = 1
_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, P(PyBuffer), c_int]
_get_buffer.restype = c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [P(PyBuffer)]
_release_buffer.restype = None


def get_buffer(obj, writable):
    """A PyBuffer over obj's contiguous memory; raises BufferError otherwise."""
    view = PyBuffer()
    _get_buffer(obj, ctypes.byref(view), PyBUF_WRITABLE if writable else PyBUF_SIMPLE)
    return view


def release_buffer(view):
    _release_buffer(ctypes.byref(view))
