// OpenRemoteTier: the shared remote tier (Redis, Redis Cluster) from
// Options. A build without OpenSSL (libssl, libcrypto) links a version that says
// NotSupported (DESIGN invariant 8).
#pragma once

#include <memory>

#include "kvtier/options.h"
#include "lib/tier_backend.h"

namespace kvtier::internal {

// Checks options.remote (each error names its field); Ok when no endpoint
// is set (no remote tier).
Status ValidateRemoteOptions(const Options& options);

// REQUIRES: ValidateRemoteOptions(options).ok() and endpoints not empty.
Result<std::unique_ptr<TierBackend>> OpenRemoteTier(const Options& options);

}  // namespace kvtier::internal
