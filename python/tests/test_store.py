"""The kvtier Python package over a real store: options from keywords and
dicts, save/lookup/load with numpy arrays, plain buffers and (pointer, size)
pairs, stats as dicts, errors naming the field, NVMe with prefetch."""
import ctypes
import os
import tempfile
import threading
import unittest

import kvtier

try:
    import numpy as np
except ImportError:  # numpy is optional for the package, used where present
    np = None

LAYOUT = dict(num_layers=2, kv_heads=2, head_dim=8, block_tokens=4)


def small_store(**extra):
    opts = dict(LAYOUT, model_id="py-test@1", host_capacity_bytes=1 << 20,
                host_lock_memory=False)
    opts.update(extra)
    return kvtier.Store(**opts)


class FakeCudaTensor:
    """Stands in for a torch/CuPy tensor on the GPU: only the
    __cuda_array_interface__ kvtier reads (no GPU here)."""

    def __init__(self, ptr, shape, typestr, strides=None):
        self.__cuda_array_interface__ = {"data": (ptr, False), "shape": shape,
                                         "typestr": typestr, "strides": strides,
                                         "version": 3}


def pattern(n, seed):
    return bytearray((i * 7 + seed) & 0xFF for i in range(n))


class OptionsTest(unittest.TestCase):
    def test_a_nested_dict_and_keywords_give_the_same_options(self):
        nested = kvtier.Options({"layout": {"num_layers": 2, "head_dim": 8},
                                 "host": {"capacity_bytes": 4096, "codec": "int8"},
                                 "nvme": {"directories": ["/tmp"], "write_policy":
                                          "write_back"}, "eviction": "lru"})
        flat = kvtier.Options(num_layers=2, head_dim=8, host_capacity_bytes=4096,
                              host_codec="INT8", nvme_directories=["/tmp"],
                              nvme_write_policy="write_back", eviction="lru")
        self.assertEqual(repr(nested), repr(flat))

    def test_an_unknown_option_is_an_error_naming_it(self):
        with self.assertRaises(kvtier.Error) as e:
            kvtier.Options(host_capacty_bytes=1)
        self.assertIn("options.host_capacty_bytes", str(e.exception))
        self.assertEqual(e.exception.code_name, "INVALID_ARGUMENT")

    def test_a_bad_value_is_an_error_naming_the_field(self):
        with self.assertRaises(kvtier.Error) as e:
            kvtier.Options(host_codec="int4")
        self.assertIn("options.host_codec", str(e.exception))
        with self.assertRaises(kvtier.Error) as e:
            kvtier.Options(num_layers=-1)
        self.assertIn("options.num_layers", str(e.exception))

    def test_open_errors_from_the_library_name_the_field(self):
        with self.assertRaises(kvtier.Error) as e:
            kvtier.Store(LAYOUT, model_id="m", host_capacity_bytes=1 << 20, head_dim=0)
        self.assertIn("layout.head_dim", str(e.exception))


class StoreTest(unittest.TestCase):
    def test_bytearrays_round_trip_and_stats_move(self):
        with small_store() as store:
            chain = store.hash_chain(list(range(20)))  # 5 full blocks of 4
            self.assertEqual(len(chain), 5)
            self.assertEqual(store.lookup(chain), 0)
            src = pattern(5 * store.block_bytes, 3)
            self.assertEqual(store.save(chain, bytes(src)), 5)
            self.assertEqual(store.lookup(chain), 5)
            dst = bytearray(len(src))
            self.assertEqual(store.load(chain, dst), 5)
            self.assertEqual(dst, src)
            stats = store.stats()
            self.assertEqual(stats["host"]["blocks"], 5)
            self.assertTrue(stats["host"]["enabled"])
            self.assertFalse(stats["nvme"]["enabled"])
            self.assertEqual(stats["calls"]["save_new_blocks"], 5)
            self.assertEqual(stats["calls"]["load_hit_blocks"], 5)

    def test_erase_a_tail_then_clear(self):
        with small_store() as store:
            chain = store.hash_chain(list(range(20)))
            store.save(chain, bytes(pattern(5 * store.block_bytes, 1)))
            self.assertEqual(store.erase(chain[3:]), 2)
            self.assertEqual(store.lookup(chain), 3)
            self.assertEqual(store.clear(), 3)
            self.assertEqual(store.lookup(chain), 0)
            self.assertEqual(store.stats()["calls"]["erased_blocks"], 5)

    def test_async_save_then_load_layer_by_layer(self):
        with small_store() as store:
            chain = store.hash_chain(list(range(16)))
            src = pattern(4 * store.block_bytes, 9)
            with store.begin_save(chain, bytes(src)) as t:
                self.assertEqual(t.wait(), 4)
                self.assertEqual(len(t), 4)
                self.assertEqual(t.outcome(3), "done")
                with self.assertRaises(IndexError):
                    t.outcome(4)
            dst = bytearray(len(src))
            with store.begin_load(chain, dst) as t:
                for layer in range(LAYOUT["num_layers"]):
                    self.assertEqual(t.wait_layer(layer), 4)
                    self.assertTrue(t.layer_done(layer))
                self.assertEqual(t.wait(), 4)
                self.assertTrue(t.done())
            self.assertEqual(dst, src)
            self.assertEqual(store.stats()["calls"]["transfers_started"], 2)
            with self.assertRaises(ValueError):
                t.wait()  # closed

    def test_a_cancelled_load_keeps_the_blocks(self):
        with small_store() as store:
            chain = store.hash_chain(list(range(16)))
            store.save(chain, bytes(pattern(4 * store.block_bytes, 2)))
            t = store.begin_load(chain, bytearray(4 * store.block_bytes))
            t.cancel()
            t.wait()
            self.assertTrue(all(t.outcome(b) in ("done", "cancelled") for b in range(4)))
            t.close()
            self.assertEqual(store.lookup(chain), 4)

    def test_a_lease_serves_its_prefix_and_ends_with_the_load(self):
        with small_store() as store:
            chain = store.hash_chain(list(range(12)))
            src = pattern(3 * store.block_bytes, 4)
            store.save(chain, bytes(src))
            blocks, lease = store.lookup_and_lease(chain, 5000)
            self.assertEqual(blocks, 3)
            self.assertNotEqual(lease, 0)
            dst = bytearray(len(src))
            self.assertEqual(store.load(chain, dst, lease=lease), 3)
            self.assertEqual(dst, src)
            self.assertFalse(store.release_lease(lease))  # the load ended it
            _, lease = store.lookup_and_lease(chain, 5000)
            self.assertTrue(store.release_lease(lease))
            with self.assertRaises(kvtier.Error) as e:
                store.lookup_and_lease(chain, 0)
            self.assertIn("lease_ms", str(e.exception))

    @unittest.skipIf(np is None, "numpy not installed")
    def test_numpy_arrays_and_a_prefix_slice(self):
        with small_store() as store:
            tokens = np.arange(40, dtype=np.uint32)
            chain = store.hash_chain(tokens)
            self.assertEqual(len(chain), 10)
            kv = np.random.default_rng(1).standard_normal(
                (10, store.block_bytes // 2)).astype(np.float16)
            store.save(chain[:6], kv[:6])
            hit = store.lookup(chain)
            self.assertEqual(hit, 6)
            out = np.zeros_like(kv[:hit])
            self.assertEqual(store.load(chain[:hit], out), 6)
            np.testing.assert_array_equal(out, kv[:6])
            # first_block: blocks 0..5 were loaded, only 6..9 are new
            self.assertEqual(store.save(chain, kv[6:], first_block=6), 4)
            self.assertEqual(store.lookup(chain), 10)

    def test_segments_as_pointer_size_pairs(self):
        with small_store() as store:
            chain = store.hash_chain(list(range(8)))
            n = len(chain) * store.segments_per_block
            src = [ctypes.create_string_buffer(bytes(pattern(store.segment_bytes, i)),
                                               store.segment_bytes) for i in range(n)]
            pairs = [(ctypes.addressof(b), store.segment_bytes) for b in src]
            self.assertEqual(store.save(chain, pairs), 2)
            dst = [bytearray(store.segment_bytes) for _ in range(n)]  # buffers too
            self.assertEqual(store.load(chain, dst), 2)
            self.assertEqual([bytes(d) for d in dst], [b.raw for b in src])

    def test_a_wrong_buffer_size_is_an_error_and_the_store_stays_usable(self):
        with small_store() as store:
            chain = store.hash_chain(list(range(8)))
            with self.assertRaises(kvtier.Error) as e:
                store.save(chain, bytearray(store.block_bytes))  # one block, two needed
            self.assertIn("segments", str(e.exception))
            with self.assertRaises(kvtier.Error) as e:
                store.load(chain, bytes(2 * store.block_bytes))  # read-only
            self.assertIn("not writable", str(e.exception))
            self.assertEqual(store.save(chain, bytearray(2 * store.block_bytes)), 2)

    def test_device_segments_without_a_gpu_are_not_supported_never_touched(self):
        # Addresses no process maps: a read or write through them would crash.
        bogus = 0x7ead00000000
        with small_store() as store:
            chain = store.hash_chain(list(range(8)))
            n, seg = len(chain) * store.segments_per_block, store.segment_bytes
            tensors = [FakeCudaTensor(bogus + i * seg, (seg // 2,), "<f2") for i in range(n)]
            triples = [(bogus + i * seg, seg, True) for i in range(n)]
            whole = FakeCudaTensor(bogus, (n, seg), "|u1")
            for segments in (tensors, triples, whole):
                for call in (store.save, store.load):
                    with self.assertRaises(kvtier.Error) as e:
                        call(chain, segments)
                    self.assertEqual(e.exception.code_name, "NOT_SUPPORTED")
                    self.assertIn("device", str(e.exception))
            strided = [FakeCudaTensor(bogus, (seg // 2,), "<f2", strides=(4,))] * n
            with self.assertRaises(kvtier.Error) as e:
                store.save(chain, strided)
            self.assertIn("segments[0]: device memory not C-contiguous", str(e.exception))
            self.assertEqual(store.save(chain, bytearray(2 * store.block_bytes)), 2)

    def test_calls_from_threads_share_one_store(self):
        with small_store() as store:
            def work(seed):
                chain = store.hash_chain([seed * 100 + i for i in range(16)])
                src = pattern(4 * store.block_bytes, seed)
                store.save(chain, bytes(src))
                dst = bytearray(len(src))
                assert store.load(chain, dst) == 4 and dst == src
            threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(store.stats()["host"]["blocks"], 16)


class NvmeTest(unittest.TestCase):
    def test_nvme_directories_prefetch_and_the_log_callback(self):
        lines = []
        with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/var/tmp")) as d:
            opts = dict(nvme_capacity_bytes=64 * 4096, nvme_directories=[d],
                        log=lambda level, msg: lines.append((level, msg)),
                        log_level="info")
            try:
                store = small_store(**opts)
            except kvtier.Error as e:
                if e.code_name == "NOT_SUPPORTED":
                    self.skipTest("no NVMe tier in this build")
                raise
            chain = store.hash_chain(list(range(24)))
            src = pattern(6 * store.block_bytes, 9)
            store.save(chain, bytes(src))
            store.flush()
            store.close()
            with small_store(**opts) as store:
                self.assertEqual(store.stats()["nvme_engine"]["recovered_blocks"], 6)
                self.assertEqual(store.prefetch(chain).wait(), 6)
                dst = bytearray(len(src))
                self.assertEqual(store.load(chain, dst), 6)
                self.assertEqual(dst, src)
        self.assertIn(("info", "nvme tier: recovered 6 blocks"),
                      [(lvl, m[:len("nvme tier: recovered 6 blocks")]) for lvl, m in lines])

    def test_nvme_checksum_key_file_is_created_and_keys_the_blocks(self):
        with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/var/tmp")) as d:
            cache = os.path.join(d, "cache")
            os.mkdir(cache, 0o700)
            key = os.path.join(d, "nvme.key")
            opts = dict(nvme_capacity_bytes=64 * 4096, nvme_directories=[cache],
                        nvme={"checksum_key_file": key})
            try:
                small_store(**opts)
                self.fail("a missing key file must be refused")
            except kvtier.Error as e:
                if e.code_name == "NOT_SUPPORTED":
                    self.skipTest("no NVMe tier in this build")
                self.assertIn("options.nvme.checksum_key_file", str(e))
            store = small_store(nvme_create_checksum_key_file=True, **opts)
            self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
            chain = store.hash_chain(list(range(16)))
            src = pattern(4 * store.block_bytes, 3)
            store.save(chain, bytes(src))
            store.flush()
            store.close()
            with small_store(**opts) as store:
                dst = bytearray(len(src))
                self.assertEqual(store.load(chain, dst), 4)
                self.assertEqual(dst, src)


if __name__ == "__main__":
    unittest.main()


def _start_redis():
    """A redis-server on a free loopback port in a temporary directory, or None."""
    import shutil
    import socket
    import subprocess
    import time
    if shutil.which("redis-server") is None:
        return None, None, None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tempfile.TemporaryDirectory()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", tmp.name],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port, tmp
        except OSError:
            time.sleep(0.02)
    proc.kill()
    return None, None, None


class RemoteTest(unittest.TestCase):
    def test_two_stores_share_blocks_through_redis(self):
        proc, port, tmp = _start_redis()
        if proc is None:
            self.skipTest("redis-server is not installed (scripts/setup.sh installs it)")
        try:
            remote = {"endpoints": [f"127.0.0.1:{port}"],
                      "checksum_key": "python-shared-secret-42"}
            try:
                small_store(remote=remote).close()
            except kvtier.Error as e:
                if e.code_name != "NOT_SUPPORTED":
                    raise
                self.skipTest(f"this build has no remote tier: {e.message}")
            with small_store(remote=remote) as writer, small_store(remote=remote) as reader:
                chain = writer.hash_chain(list(range(12)))
                src = pattern(3 * writer.block_bytes, 9)
                self.assertEqual(writer.save(chain, bytes(src)), 3)
                writer.flush()
                self.assertEqual(reader.lookup(chain), 3)
                dst = bytearray(len(src))
                self.assertEqual(reader.load(chain, dst), 3)
                self.assertEqual(dst, src)
                stats = reader.stats()
                self.assertTrue(stats["remote"]["enabled"])
                self.assertEqual(stats["remote"]["hits"], 3)
        finally:
            proc.kill()
            proc.wait()
            tmp.cleanup()

    def test_a_tls_ca_file_that_is_not_there_is_named(self):
        remote = {"endpoints": ["127.0.0.1:1"], "tls_ca_file": "/nonexistent/ca.pem"}
        with self.assertRaises(kvtier.Error) as caught:
            small_store(remote=remote).close()
        if caught.exception.code_name == "NOT_SUPPORTED":
            self.skipTest(f"this build has no remote tier: {caught.exception.message}")
        self.assertEqual(caught.exception.code_name, "INVALID_ARGUMENT")
        self.assertIn("options.remote.tls_ca_file", caught.exception.message)
