"""Metrics and configuration from Python: the Prometheus text, the HTTP
endpoint scraped with urllib while values move, and a store opened from a
JSON file and KVTIER_* variables (errors naming the key)."""
import json
import os
import tempfile
import unittest
import urllib.request

import kvtier

BASE = dict(model_id="py-metrics@1", num_layers=2, kv_heads=2, head_dim=8, block_tokens=4,
            host_capacity_bytes=1 << 20, host_lock_memory=False)


def sample(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


class MetricsTest(unittest.TestCase):
    def test_a_scrape_over_http_sees_the_values_move(self):
        with kvtier.Store(**BASE) as store:
            server = store.serve_metrics()
            url = f"http://127.0.0.1:{server.port}/metrics"
            before = urllib.request.urlopen(url, timeout=5).read().decode()
            self.assertEqual(sample(before, 'kvtier_calls_total{operation="save"}'), 0)
            chain = store.hash_chain(list(range(12)))
            store.save(chain, bytes(3 * store.block_bytes))
            after = urllib.request.urlopen(url, timeout=5).read().decode()
            self.assertEqual(sample(after, 'kvtier_calls_total{operation="save"}'), 1)
            self.assertEqual(sample(after, 'kvtier_tier_blocks{tier="host"}'), 3)
            self.assertIn('kvtier_tier_blocks{tier="host"} 3', store.metrics_text())
            server.stop()


class ConfigTest(unittest.TestCase):
    def test_a_json_file_and_the_environment_configure_the_store(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"host": {"codec": "int8"}, "eviction": "lru"}, f)
        old = os.environ.get("KVTIER_HOST_BYTES")
        os.environ["KVTIER_HOST_BYTES"] = "2MiB"
        try:
            with kvtier.Store(BASE, config_file=f.name, env=True) as store:
                host = store.stats()["host"]
                self.assertEqual(host["codec"], 1)  # int8, from the file
                self.assertGreater(host["capacity_bytes"], 1 << 20)  # 2MiB, from the env
            with open(f.name, "w") as g:
                json.dump({"host": {"codek": "int8"}}, g)
            with self.assertRaises(kvtier.Error) as e:
                kvtier.Store(BASE, config_file=f.name)
            self.assertIn("config.host.codek", str(e.exception))
        finally:
            os.unlink(f.name)
            if old is None:
                del os.environ["KVTIER_HOST_BYTES"]
            else:
                os.environ["KVTIER_HOST_BYTES"] = old


if __name__ == "__main__":
    unittest.main()
