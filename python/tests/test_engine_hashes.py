"""Engines' block hashes and engine keys from Python: vLLM's and SGLang's
hashes equal the golden file (tests/golden/engine_hashes.py computes it with
hashlib and cbor2) and, where cbor2 is installed, a direct recomputation; a
store serves chains named by vLLM's keys; bad input raises naming the field."""
import hashlib
import json
import os
import unittest

import kvtier

try:
    import cbor2
except ImportError:  # python3-cbor2; the golden file needs no cbor2
    cbor2 = None

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests",
                      "golden", "engine_hashes.json")


def golden():
    with open(GOLDEN) as f:
        return json.load(f)


class VllmHashesTest(unittest.TestCase):
    def test_none_hash_and_block_hashes_match_the_golden_file(self):
        g = golden()
        for seed, want in g["vllm_none_hash"].items():
            self.assertEqual(kvtier.vllm_none_hash(seed).hex(), want)
        for case in g["vllm"]:
            req = case["request"]
            got = kvtier.vllm_block_hashes(
                case["tokens"], case["block_size"], kvtier.vllm_none_hash(case["seed"]),
                lora_name=req.get("lora_name"), cache_salt=req.get("cache_salt", ""),
                mm_features=[(f["identifier"], f["offset"], f["length"])
                             for f in req.get("mm_features", [])],
                prior=[bytes.fromhex(p) for p in case["prior"]])
            self.assertEqual([h.hex() for h in got], case["expected"], case["name"])

    @unittest.skipIf(cbor2 is None, "python3-cbor2 not installed")
    def test_equal_to_sha256_of_canonical_cbor_computed_here(self):
        seed = hashlib.sha256(cbor2.dumps("7", canonical=True)).digest()
        self.assertEqual(kvtier.vllm_none_hash("7"), seed)
        tokens = [3, 1, 4, 1, 5, 9, 2, 6]
        b0 = hashlib.sha256(cbor2.dumps((seed, (3, 1, 4, 1), ("lora", "salt")),
                                        canonical=True)).digest()
        b1 = hashlib.sha256(cbor2.dumps((b0, (5, 9, 2, 6), ("lora",)),
                                        canonical=True)).digest()
        self.assertEqual(kvtier.vllm_block_hashes(tokens, 4, seed, lora_name="lora",
                                                  cache_salt="salt"), [b0, b1])

    def test_bad_arguments_raise_naming_the_field(self):
        seed = kvtier.vllm_none_hash("0")
        with self.assertRaises(kvtier.Error) as e:
            kvtier.vllm_block_hashes([1, 2, 3, 4], 0, seed)
        self.assertIn("block_size", str(e.exception))
        with self.assertRaises(kvtier.Error) as e:
            kvtier.vllm_block_hashes([1, 2, 3, 4], 2, seed,
                                     mm_features=[("b", 3, 1), ("a", 1, 1)])
        self.assertIn("vllm.mm_features[1].offset", str(e.exception))
        with self.assertRaises(kvtier.Error) as e:
            kvtier.vllm_block_hashes([1, -1], 1, seed)
        self.assertIn("tokens", str(e.exception))


class SglangHashesTest(unittest.TestCase):
    def test_page_hashes_match_the_golden_file_and_hashlib(self):
        for case in golden()["sglang"]:
            got = kvtier.sglang_page_hashes(case["tokens"], case["page_size"],
                                            case["prior"] or None)
            self.assertEqual(got, case["expected"], case["name"])
        first = hashlib.sha256(b"".join(t.to_bytes(4, "little") for t in [1, 2])).hexdigest()
        second = hashlib.sha256(bytes.fromhex(first) + (3).to_bytes(4, "little") +
                                (4).to_bytes(4, "little")).hexdigest()
        self.assertEqual(kvtier.sglang_page_hashes([1, 2, 3, 4, 5], 2), [first, second])

    def test_a_bad_prior_raises_naming_it(self):
        with self.assertRaises(kvtier.Error) as e:
            kvtier.sglang_page_hashes([1, 2], 2, prior_hash="xyz")
        self.assertIn("prior_hash", str(e.exception))


class EngineKeyChainTest(unittest.TestCase):
    def store(self):
        return kvtier.Store(model_id="py-keys@1", num_layers=2, kv_heads=2, head_dim=8,
                            block_tokens=4, host_capacity_bytes=1 << 20,
                            host_lock_memory=False)

    def test_a_store_serves_the_shared_prefix_of_vllm_keyed_chains(self):
        seed = kvtier.vllm_none_hash("0")
        a = kvtier.vllm_block_hashes(list(range(20)), 4, seed)
        b = kvtier.vllm_block_hashes(list(range(8)) + [99] * 8, 4, seed)
        with self.store() as store:
            chain_a = store.engine_key_chain(a, profile="vllm")
            chain_b = store.engine_key_chain(b, profile="vllm")
            self.assertEqual(chain_a[:2][0], chain_b[:2][0])
            block = store.segment_bytes * store.segments_per_block
            data = bytearray((i * 31) & 0xFF for i in range(5 * block))
            store.save(chain_a, data)
            self.assertEqual(store.lookup(chain_b), 2)
            out = bytearray(2 * block)
            self.assertEqual(store.load(chain_b[:2], out), 2)
            self.assertEqual(out, data[:2 * block])
            # Another group names other blocks.
            self.assertEqual(store.lookup(store.engine_key_chain(a, "vllm", group=1)), 0)

    def test_sglang_and_bytes_keys_and_a_refused_key(self):
        with self.store() as store:
            pages = kvtier.sglang_page_hashes(list(range(8)), 4)
            self.assertEqual(len(store.engine_key_chain(pages, profile="sglang")), 2)
            self.assertEqual(len(store.engine_key_chain([b"k1", b"k2\x00"], "bytes")), 2)
            with self.assertRaises(kvtier.Error) as e:
                store.engine_key_chain([pages[0], pages[1][:10]], profile="sglang")
            self.assertIn("engine_keys.keys[1]", str(e.exception))
            with self.assertRaises(kvtier.Error) as e:
                store.engine_key_chain(pages, profile="tgi")
            self.assertIn("profile", str(e.exception))


if __name__ == "__main__":
    unittest.main()
