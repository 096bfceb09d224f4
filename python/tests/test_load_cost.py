"""Load or recompute from Python: the options reach the store (a bad value
names its field), and its counter is in stats()."""
import unittest

import kvtier

LAYOUT = dict(num_layers=2, kv_heads=2, head_dim=8, block_tokens=4)


def store(**extra):
    opts = dict(LAYOUT, model_id="py-cost@1", host_capacity_bytes=1 << 20,
                host_lock_memory=False)
    opts.update(extra)
    return kvtier.Store(**opts)


class LoadCostTest(unittest.TestCase):
    def test_a_store_with_a_prefill_speed_serves_and_counts(self):
        with store(load_cost={"prefill_tokens_per_second": 5000.0}) as s:
            chain = s.hash_chain(list(range(8)))
            s.save(chain, bytearray(2 * s.block_bytes))
            self.assertLessEqual(s.lookup(chain), 2)
            self.assertIn("lookup_capped_blocks", s.stats()["calls"])

    def test_bad_values_name_the_field(self):
        for bad, field in [({"load_cost_prefill_tokens_per_second": -1},
                            "options.load_cost.prefill_tokens_per_second"),
                           ({"load_cost": {"measurement_weight": 0}},
                            "options.load_cost.measurement_weight")]:
            with self.assertRaises(kvtier.Error) as e:
                store(**bad)
            self.assertIn(field, str(e.exception))


if __name__ == "__main__":
    unittest.main()
