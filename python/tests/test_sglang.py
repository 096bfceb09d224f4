"""kvtier.sglang: SGLang's HiCacheStorage over a real kvtier store, with a
numpy host pool laid out as SGLang's page_first MHA pool (K and V pieces per
page) and SGLang's base class stood in by sglang_standin."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sglang_standin as sg  # noqa: E402
from nvme_files import corrupt_slot_files  # noqa: E402

sg.install()  # before kvtier.sglang is imported: it subclasses SGLang's base
import numpy as np  # noqa: E402

import kvtier  # noqa: E402
from kvtier.sglang import KvtierHiCacheStorage  # noqa: E402

PAGE, LAYERS, HEADS, DIM = 4, 2, 2, 8
LAYOUT = {"num_layers": LAYERS, "kv_heads": HEADS, "head_dim": DIM, "block_tokens": PAGE}


class HostPool:
    """SGLang's page_first MHA host pool: kv_buffer (2, tokens, layers, heads,
    dim); get_page_buffer_meta gives [k_ptr, v_ptr] per page."""
    layout = "page_first"

    def __init__(self, pages=300, page_size=PAGE, layers=LAYERS):
        self.page_size = page_size
        self.size = pages * page_size
        self.kv_buffer = np.zeros((2, self.size, layers, HEADS, DIM), dtype=np.float16)
        self.per_token = layers * HEADS * DIM * 2

    def get_page_buffer_meta(self, indices):
        idx = indices.tolist()
        base = self.kv_buffer.ctypes.data
        v_offset = self.size * self.per_token
        ptrs = []
        for i in range(0, len(idx), self.page_size):
            k = base + idx[i] * self.per_token
            ptrs += [k, k + v_offset]
        return ptrs, [self.page_size * self.per_token] * len(ptrs)

    def fill(self, slot, seed):
        rng = np.random.default_rng(seed)
        rows = slice(slot * self.page_size, (slot + 1) * self.page_size)
        self.kv_buffer[:, rows] = rng.standard_normal(self.kv_buffer[:, rows].shape)

    def page(self, slot):
        return self.kv_buffer[:, slot * self.page_size:(slot + 1) * self.page_size].copy()


def indices(slots, page_size=PAGE):
    return np.array([s * page_size + t for s in slots for t in range(page_size)])


def config(**extra):
    kv = {"layout": dict(LAYOUT), "host_capacity_bytes": 1 << 20, "host_lock_memory": False}
    kv.update(extra.pop("kvtier", {}))
    extra_config = {"backend_name": "kvtier", "module_path": "kvtier.sglang",
                    "class_name": "KvtierHiCacheStorage", "interface_v1": 1, "kvtier": kv}
    extra_config.update(extra)
    return sg.HiCacheStorageConfig(
        tp_rank=0, tp_size=1, pp_rank=0, pp_size=1, attn_cp_rank=0, attn_cp_size=1,
        is_mla_model=False, enable_storage_metrics=False, is_page_first_layout=True,
        model_name="org/model", extra_config=extra_config)


def keys(n, seed=0):
    tokens = [(i * 31 + seed) % 50000 for i in range(n * PAGE)]
    return kvtier.sglang_page_hashes(tokens, PAGE)


def backend(**extra):
    b = KvtierHiCacheStorage(config(**extra), {})  # as SGLang's factory calls it
    pool = HostPool()
    b.register_mem_pool_host(pool)
    return b, pool


class V1Test(unittest.TestCase):
    def test_the_factory_gets_a_subclass_of_sglangs_base_and_no_abstract_gaps(self):
        self.assertTrue(issubclass(KvtierHiCacheStorage, sg.HiCacheStorage))
        b, _ = backend()
        self.assertIsInstance(b, sg.HiCacheStorage)
        b.close()

    def test_pages_round_trip_zero_copy_into_other_pool_slots(self):
        b, pool = backend()
        ks = keys(5)
        for slot in range(5):
            pool.fill(slot, seed=slot + 1)
        self.assertEqual(b.batch_set_v1(ks, indices(range(5))), [True] * 5)
        self.assertEqual(b.batch_exists(ks), 5)
        self.assertEqual(b.batch_get_v1(ks, indices(range(100, 105))), [True] * 5)
        for slot in range(5):
            np.testing.assert_array_equal(pool.page(100 + slot), pool.page(slot))
        b.close()

    def test_batch_exists_counts_the_leading_pages_only(self):
        b, pool = backend()
        ks = keys(6)
        b.batch_set_v1(ks[:2] + ks[3:], indices([0, 1, 3, 4, 5]))  # page 2 missing
        self.assertEqual(b.batch_exists(ks), 2)
        self.assertTrue(b.exists(ks[4]))
        self.assertFalse(b.exists(ks[2]))
        self.assertEqual(b.batch_exists(keys(3, seed=7)), 0)
        b.close()

    def test_a_get_of_missing_pages_is_false_for_them_and_leaves_the_pool(self):
        b, pool = backend()
        ks = keys(4)
        pool.fill(0, 5)
        pool.fill(1, 6)
        b.batch_set_v1(ks[:2], indices([0, 1]))
        pool.fill(50, 9)
        before = pool.page(52)
        got = b.batch_get_v1(ks, indices([50, 51, 52, 53]))
        self.assertEqual(got, [True, True, False, False])
        np.testing.assert_array_equal(pool.page(50), pool.page(0))
        np.testing.assert_array_equal(pool.page(52), before)
        b.close()

    def test_more_than_128_pages_are_cut_into_batches(self):
        b, pool = backend(kvtier={"host_capacity_bytes": 4 << 20})
        ks = keys(140)
        for slot in range(140):
            pool.fill(slot, slot)
        self.assertEqual(b.batch_set_v1(ks, indices(range(140))), [True] * 140)
        self.assertEqual(b.batch_exists(ks), 140)
        holed = ks[:5] + keys(123, seed=9) + ks[5:17]  # the second batch of 128 is there
        self.assertEqual(b.batch_exists(holed), 5)
        self.assertEqual(b.batch_get_v1(ks, indices(range(150, 290))), [True] * 140)
        np.testing.assert_array_equal(pool.kv_buffer[:, 150 * PAGE:290 * PAGE],
                                      pool.kv_buffer[:, :140 * PAGE])
        b.close()

    def test_a_store_too_small_reports_false_never_wrong_bytes(self):
        b, pool = backend(kvtier={"host_capacity_bytes": 8 * 1024})
        ks = keys(40)
        for slot in range(40):
            pool.fill(slot, slot + 100)
        stored = b.batch_set_v1(ks, indices(range(40)))
        self.assertEqual(len(stored), 40)
        self.assertFalse(all(stored))
        got = b.batch_get_v1(ks, indices(range(200, 240)))
        self.assertEqual(got, stored)  # what was refused is a miss, the rest is served
        for i, ok in enumerate(got):
            if ok:
                np.testing.assert_array_equal(pool.page(200 + i), pool.page(i))
        b.close()

    def test_wrong_host_indices_give_false_per_page(self):
        b, pool = backend()
        ks = keys(3)
        self.assertEqual(b.batch_set_v1(ks, indices([0, 1])), [False] * 3)
        b.close()


class RankTest(unittest.TestCase):
    def test_model_and_rank_default_to_the_workers_position_mla_ranks_share(self):
        cfg = config()
        cfg.tp_rank, cfg.tp_size, cfg.pp_rank, cfg.pp_size = 1, 2, 1, 2
        b = KvtierHiCacheStorage(cfg, {})
        self.assertEqual(b._stores["kv"].options["rank"], 3)  # (pp 1 * tp 2) + tp 1
        self.assertEqual(b._stores["kv"].options["model_id"], "org/model")
        b.close()
        cfg.is_mla_model = True
        b = KvtierHiCacheStorage(cfg, {})
        self.assertEqual(b._stores["kv"].options["rank"], 1)  # pp 1 only
        b.close()


class PerRankDirectoryTest(unittest.TestCase):
    def test_rank_in_an_nvme_directory_gives_each_worker_its_own(self):
        with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/var/tmp")) as d:
            for rank in (0, 1):
                os.mkdir(os.path.join(d, f"rank{rank}"), 0o700)
            nvme = {"nvme_capacity_bytes": 64 * 4096,
                    "nvme_directories": [os.path.join(d, "rank{rank}")]}
            workers = []
            try:
                for tp in (0, 1):  # both open at once: one directory each
                    cfg = config(kvtier=nvme)
                    cfg.tp_rank, cfg.tp_size = tp, 2
                    workers.append(KvtierHiCacheStorage(cfg, {}))
            except kvtier.Error as e:
                if e.code_name == "NOT_SUPPORTED":
                    self.skipTest("no NVMe tier in this build")
                raise
            for tp, b in enumerate(workers):
                self.assertEqual(b._stores["kv"].options["nvme_directories"],
                                 [os.path.join(d, f"rank{tp}")])
                self.assertTrue(os.path.exists(os.path.join(d, f"rank{tp}",
                                                            "kvtier-nvme.cache")))
                b.close()


class CorruptTest(unittest.TestCase):
    def test_a_corrupt_page_on_nvme_is_a_miss(self):
        with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/var/tmp")) as d:
            nvme = {"nvme_capacity_bytes": 64 * 4096, "nvme_directories": [d]}
            try:
                b, pool = backend(kvtier=nvme)
            except kvtier.Error as e:
                if e.code_name == "NOT_SUPPORTED":
                    self.skipTest("no NVMe tier in this build")
                raise
            ks = keys(3)
            for slot in range(3):
                pool.fill(slot, slot + 40)
            self.assertEqual(b.batch_set_v1(ks, indices(range(3))), [True] * 3)
            b._stores["kv"].flush()
            b.close()
            corrupt_slot_files(d)
            b, pool2 = backend(kvtier=nvme)
            got = b.batch_get_v1(ks, indices(range(3)))
            self.assertEqual(got, [False] * 3)
            b.close()


class V2Test(unittest.TestCase):
    def setUp(self):
        self.b = KvtierHiCacheStorage(config(kvtier_pools={"swa": {"layout": {"num_layers": 1}}}), {})
        self.kv, self.swa = HostPool(), HostPool(layers=1)
        self.b.register_mem_host_pool_v2(self.kv, sg.PoolName.KV)
        self.b.register_mem_host_pool_v2(self.swa, sg.PoolName.SWA)

    def tearDown(self):
        self.b.close()

    def save(self, ks, swa_pages):
        kv = sg.PoolTransfer(sg.PoolName.KV, host_indices=indices(range(len(ks))), keys=ks)
        swa = sg.PoolTransfer(sg.PoolName.SWA, host_indices=indices(swa_pages),
                              keys=[ks[i] for i in swa_pages])
        return self.b.batch_set_v2([kv, swa])

    def test_trailing_pages_need_only_the_tail_and_all_pages_need_all(self):
        ks = keys(6)
        for slot in range(6):
            self.kv.fill(slot, slot)
            self.swa.fill(slot, slot + 10)
        self.assertEqual(self.save(ks, [3, 4]), {"kv": [True] * 6, "swa": [True] * 2})
        trailing = sg.PoolTransfer(sg.PoolName.SWA, keys=ks[:2],
                                   hit_policy=sg.PoolHitPolicy.TRAILING_PAGES)
        r = self.b.batch_exists_v2(ks, [trailing])
        self.assertEqual((r.kv_hit_pages, r.extra_pool_hit_pages), (5, {"kv": 6, "swa": 5}))
        longer = sg.PoolTransfer(sg.PoolName.SWA, keys=ks[:3],
                                 hit_policy=sg.PoolHitPolicy.TRAILING_PAGES)
        r = self.b.batch_exists_v2(ks, [longer])  # pages 2, 3, 4 needed: 2 is not there
        self.assertEqual((r.kv_hit_pages, r.extra_pool_hit_pages), (0, {"kv": 6}))
        everything = sg.PoolTransfer(sg.PoolName.SWA, keys=ks)
        r = self.b.batch_exists_v2(ks, [everything])
        self.assertEqual((r.kv_hit_pages, r.extra_pool_hit_pages), (0, {"kv": 6}))

    def test_pools_load_their_own_bytes(self):
        ks = keys(3)
        for slot in range(3):
            self.kv.fill(slot, slot)
            self.swa.fill(slot, slot + 20)
        self.save(ks, [0, 1, 2])
        got = self.b.batch_get_v2([
            sg.PoolTransfer(sg.PoolName.KV, host_indices=indices([10, 11, 12]), keys=ks),
            sg.PoolTransfer(sg.PoolName.SWA, host_indices=indices([11, 12]), keys=ks[1:])])
        self.assertEqual(got, {"kv": [True] * 3, "swa": [True] * 2})
        for i in range(3):
            np.testing.assert_array_equal(self.kv.page(10 + i), self.kv.page(i))
        np.testing.assert_array_equal(self.swa.page(12), self.swa.page(2))


class UnsupportedTest(unittest.TestCase):
    def test_tensor_calls_raise_naming_interface_v1(self):
        b, _ = backend()
        for call in (lambda: b.get("k"), lambda: b.set("k", None),
                     lambda: b.batch_get(["k"]), lambda: b.batch_set(["k"], [None])):
            with self.assertRaisesRegex(NotImplementedError, "interface_v1"):
                call()
        b.close()

    def test_without_interface_v1_the_backend_refuses_to_start(self):
        cfg = config()
        del cfg.extra_config["interface_v1"]
        with self.assertRaisesRegex(NotImplementedError, "interface_v1"):
            KvtierHiCacheStorage(cfg, {})

    def test_a_page_size_unlike_block_tokens_and_an_unknown_pool_raise(self):
        b = KvtierHiCacheStorage(config(), {})
        with self.assertRaisesRegex(NotImplementedError, "block_tokens"):
            b.register_mem_pool_host(HostPool(page_size=8))
        with self.assertRaisesRegex(NotImplementedError, "'mamba'"):
            b.register_mem_host_pool_v2(HostPool(), sg.PoolName.MAMBA)
        with self.assertRaisesRegex(NotImplementedError, "not one of"):
            b.register_mem_host_pool_v2(HostPool(), "ssm")
        b.close()

    def test_a_pool_whose_pages_differ_from_the_block_raises(self):
        b = KvtierHiCacheStorage(config(), {})
        b.register_mem_pool_host(HostPool(layers=3))
        with self.assertRaisesRegex(NotImplementedError, "layout must match"):
            b.batch_set_v1(keys(1), indices([0]))
        b.close()


if __name__ == "__main__":
    unittest.main()
