// KVTIER_SKIP_WITHOUT_NVME(): skips the current test, with the reason
// printed, in a build without the NVMe tier (-DKVTIER_WITH_NVME=OFF), where
// opening a store with one is NotSupported (nvme_unavailable_test.cc).
#pragma once

#include "tests/test_support.h"

#ifdef KVTIER_WITH_NVME
#define KVTIER_SKIP_WITHOUT_NVME() \
  do {                             \
  } while (0)
#else
#define KVTIER_SKIP_WITHOUT_NVME() \
  KVTIER_SKIP("built without the NVMe tier (KVTIER_WITH_NVME=OFF)")
#endif
