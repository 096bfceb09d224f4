"""Options: every kvtier option, from keyword arguments or a dict.

Flat names follow the C API (host_capacity_bytes, nvme_directories, ...); a
dict may also nest them as the JSON config file does ({"host": {"codec":
"int8"}, "layout": {"num_layers": 32}}). Enums are strings. An unknown name
or a bad value raises kvtier.Error naming it.
"""
import ctypes

from . import _capi
from .errors import Error, INVALID_ARGUMENT

DTYPES = {"fp16": 1, "bf16": 2, "fp32": 3, "fp8_e4m3": 4}
CODECS = {"raw": 0, "int8": 1, "fp8": 2}
WRITE_POLICIES = {"write_through": 0, "write_back": 1}
EVICTIONS = {"lru": 0, "slru": 1, "freq": 2, "session": 3}
LOG_LEVELS = {"debug": 0, "info": 1, "warning": 2, "error": 3, "off": 4}
REMOTE_KINDS = {"redis": 0, "redis_cluster": 1}

_ENUMS = {"dtype": DTYPES, "host_codec": CODECS, "nvme_codec": CODECS, "gpu_codec": CODECS,
          "nvme_write_policy": WRITE_POLICIES, "eviction": EVICTIONS,
          "log_level": LOG_LEVELS, "remote_kind": REMOTE_KINDS}
_BOOLS = {"host_lock_memory", "nvme_allow_buffered_io", "nvme_wipe_on_mismatch",
          "nvme_create_checksum_key_file"}
_STRINGS = {"model_id", "tenant_salt", "remote_username", "remote_password",
            "remote_key_prefix", "remote_checksum_key", "remote_tls_ca_file",
            "remote_tls_ca_dir", "remote_tls_cert_file", "remote_tls_key_file",
            "remote_tls_server_name", "nvme_checksum_key", "nvme_checksum_key_file"}
_INTS = {"num_layers", "kv_heads", "head_dim", "block_tokens", "parts_per_layer", "rank",
         "gpu_capacity_bytes", "host_capacity_bytes", "nvme_capacity_bytes",
         "swa_checkpoint_blocks", "nvme_queue_depth", "nvme_write_queue_blocks",
         "gpu_device", "remote_ttl_seconds", "remote_queue_blocks", "remote_exists_cache_ms"}
_LISTS = {"layer_windows", "nvme_directories", "remote_endpoints"}
_FLOATS = {"shadow_sample_rate", "load_cost_prefill_tokens_per_second",
           "load_cost_measurement_weight"}
_INTS |= {"shadow_max_pending_blocks"}
# The C++/JSON nesting: {"layout": {...}} holds the layout's fields unprefixed;
# {"host": {...}}, {"nvme": {...}}, {"gpu": {...}} their tier's, prefixed.
_NESTED = {"layout": "", "host": "host_", "nvme": "nvme_", "gpu": "gpu_",
           "remote": "remote_", "shadow": "shadow_", "load_cost": "load_cost_"}
NAMES = _INTS | _BOOLS | _STRINGS | _LISTS | _FLOATS | set(_ENUMS) | {"log"}


def _flatten(d):
    out = {}
    for key, value in d.items():
        if key in _NESTED and isinstance(value, dict):
            for inner, v in value.items():
                out[_NESTED[key] + inner] = v
        else:
            out[key] = value
    return out


def _bad(name, why):
    return Error(INVALID_ARGUMENT, f"options.{name}: {why}")


class Options:
    """Every option of kvtier_c.h's kvtier_options, as Python values."""

    def __init__(self, options=None, **kwargs):
        self._values = {}
        merged = _flatten(dict(options or {}))
        merged.update(_flatten(kwargs))
        for name, value in merged.items():
            self[name] = value

    def __setitem__(self, name, value):
        if name not in NAMES:
            raise _bad(name, "unknown option")
        if name in _ENUMS:
            table = _ENUMS[name]
            if isinstance(value, str) and value.lower() in table:
                value = value.lower()
            elif not (isinstance(value, int) and value in table.values()):
                raise _bad(name, f"{value!r}, expected one of {', '.join(table)}")
        elif name in _BOOLS:
            if not isinstance(value, (bool, int)):
                raise _bad(name, f"{value!r}, expected a bool")
            value = bool(value)
        elif name in _INTS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise _bad(name, f"{value!r}, expected a non-negative integer")
        elif name in _FLOATS:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _bad(name, f"{value!r}, expected a number")
            value = float(value)  # the range is checked by the library, naming the field
        elif name in _STRINGS:
            if not isinstance(value, str):
                raise _bad(name, f"{value!r}, expected a string")
        elif name in _LISTS:
            if isinstance(value, str) and name in ("nvme_directories", "remote_endpoints"):
                value = [value]
            value = list(value)
        elif name == "log" and value is not None and not callable(value):
            raise _bad(name, "expected a callable(level: str, message: str)")
        self._values[name] = value

    def __getitem__(self, name):
        return self._values[name]

    def get(self, name, default=None):
        return self._values.get(name, default)

    def __repr__(self):
        return f"kvtier.Options({self._values!r})"

    def to_c(self):
        """The kvtier_options struct and the objects it points into (keep both)."""
        c = _capi.Options()
        _capi.lib.kvtier_options_init_sized(ctypes.byref(c), ctypes.sizeof(c))
        keep = []
        for name, value in self._values.items():
            if name in _ENUMS:
                c.__setattr__(name, _ENUMS[name][value] if isinstance(value, str) else value)
            elif name in _BOOLS:
                setattr(c, name, 1 if value else 0)
            elif name in _STRINGS:
                b = value.encode()
                keep.append(b)
                setattr(c, name, b)
            elif name == "layer_windows":
                arr = (ctypes.c_uint32 * len(value))(*value)
                keep.append(arr)
                c.layer_windows = ctypes.cast(arr, ctypes.POINTER(ctypes.c_uint32))
            elif name in ("nvme_directories", "remote_endpoints"):
                encoded = [str(v).encode() for v in value]
                arr = (ctypes.c_char_p * len(encoded))(*encoded)
                keep.extend([encoded, arr])
                setattr(c, name, ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p)))
                count = "nvme_directory_count" if name == "nvme_directories" else "remote_endpoint_count"
                setattr(c, count, len(encoded))
            elif name == "log":
                pass  # Store installs the trampoline
            else:
                setattr(c, name, value)
        return c, keep
