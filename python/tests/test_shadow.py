"""Shadow verification from Python: a sampled block recomputed the same is
checked, recomputed differently is a divergence on the serving tier; bad
options name their field."""
import unittest

import kvtier

LAYOUT = dict(num_layers=2, kv_heads=2, head_dim=8, block_tokens=4)


def store(**extra):
    opts = dict(LAYOUT, model_id="py-shadow@1", host_capacity_bytes=1 << 20,
                host_lock_memory=False)
    opts.update(extra)
    return kvtier.Store(**opts)


class ShadowTest(unittest.TestCase):
    def test_divergences_are_counted_on_the_serving_tier(self):
        with store(shadow={"sample_rate": 1.0}) as s:
            chain = s.hash_chain(list(range(12)))
            kv = bytearray((i * 13 + 1) & 0xFF for i in range(3 * s.block_bytes))
            s.save(chain, kv)
            out = bytearray(3 * s.block_bytes)
            self.assertEqual(s.load(chain, out), 3)
            self.assertEqual(s.shadow_sampled(chain), [0, 1, 2])
            block = s.block_bytes
            same = s.shadow_verify(chain, 0, kv[:block])
            self.assertEqual(same, {"diverged": False, "tier": "host", "relative_rms": 0.0})
            wrong = bytearray(kv[block:2 * block])
            wrong[7] ^= 0x20
            self.assertTrue(s.shadow_verify(chain, 1, wrong)["diverged"])
            with self.assertRaises(kvtier.Error) as e:
                s.shadow_verify(chain, 1, wrong)  # verified once: no longer sampled
            self.assertEqual(e.exception.code_name, "NOT_FOUND")
            self.assertEqual(s.shadow_sampled(chain), [2])
            stats = s.stats()
            self.assertEqual(stats["host"]["shadow_checked"], 2)
            self.assertEqual(stats["host"]["shadow_diverged"], 1)
            self.assertEqual(stats["calls"]["shadow_sampled"], 3)
            self.assertIn('kvtier_tier_shadow_diverged_blocks_total{tier="host"} 1',
                          s.metrics_text())

    def test_sampling_is_off_by_default(self):
        with store() as s:
            chain = s.hash_chain(list(range(8)))
            s.save(chain, bytearray(2 * s.block_bytes))
            s.load(chain, bytearray(2 * s.block_bytes))
            self.assertEqual(s.shadow_sampled(chain), [])

    def test_bad_options_name_the_field(self):
        for bad, field in [({"shadow_sample_rate": 1.5}, "options.shadow.sample_rate"),
                           ({"shadow": {"max_pending_blocks": 0}},
                            "options.shadow.max_pending_blocks"),
                           ({"shadow_sample_rate": "often"}, "options.shadow_sample_rate")]:
            with self.assertRaises(kvtier.Error) as e:
                store(**bad)
            self.assertIn(field, str(e.exception))


if __name__ == "__main__":
    unittest.main()
