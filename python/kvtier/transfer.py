"""Transfer: an asynchronous load or save in flight (kvtier/transfer.h).

Store.begin_load / Store.begin_save return one at once. The buffers it
reads or writes stay borrowed (held) until it is done; close() (or leaving a
`with` block) waits for it and lets them go. Waits release the GIL.

    with store.begin_load(chain, kv) as t:
        for layer in range(num_layers):
            t.wait_layer(layer)      # leading blocks whose layer is in place
            ...                      # attention for that layer
        loaded = t.wait()
"""
import ctypes

from . import _capi

OUTCOMES = ("pending", "done", "missing", "failed", "cancelled")


class Transfer:
    def __init__(self, handle, segments, store):
        self._handle = ctypes.c_void_p(handle)
        self._segments = segments  # the borrowed buffers, held until done
        self._store = store  # the store outlives its transfers

    def done(self):
        """True once every block has its outcome. Never blocks."""
        return bool(_capi.lib.kvtier_transfer_done(self._live()))

    def wait(self):
        """Blocks until done; blocks loaded (a load) or stored for the first
        time (a save), as load() or save() would have returned."""
        return _capi.lib.kvtier_transfer_wait(self._live())

    def layer_done(self, layer):
        return bool(_capi.lib.kvtier_transfer_layer_done(self._live(), layer))

    def wait_layer(self, layer):
        """Blocks until `layer` of every block served is in place; returns the
        leading blocks that have it."""
        return _capi.lib.kvtier_transfer_wait_layer(self._live(), layer)

    def cancel(self):
        """Asks the transfer to stop early; returns at once."""
        _capi.lib.kvtier_transfer_cancel(self._live())

    def __len__(self):
        return _capi.lib.kvtier_transfer_block_count(self._live())

    def outcome(self, block):
        """'pending', 'done', 'missing', 'failed' or 'cancelled'."""
        if not 0 <= block < len(self):
            raise IndexError(f"block {block} of a transfer of {len(self)}")
        return OUTCOMES[_capi.lib.kvtier_transfer_outcome(self._live(), block)]

    def close(self):
        """Waits for the transfer, then releases the handle and the buffers."""
        if getattr(self, "_handle", None) and _capi is not None:
            _capi.lib.kvtier_transfer_release(self._handle)
            self._handle = None
        if getattr(self, "_segments", None) is not None:
            self._segments.release()
            self._segments = None

    def _live(self):
        if not self._handle:
            raise ValueError("transfer: closed")
        return self._handle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
