// OpenRemoteTier for a build without OpenSSL (libssl, libcrypto): the
// remote tier says NotSupported, never a silent fallback.
#include "backends/remote/open_remote.h"

namespace kvtier::internal {

Status ValidateRemoteOptions(const Options& options) {
  if (options.remote.endpoints.empty()) return Status::Ok();
  return NotSupported(
      "options.remote.endpoints: this build has no remote tier (OpenSSL's libssl or "
      "libcrypto was not found, or KVTIER_WITH_REMOTE=OFF); leave it empty");
}

Result<std::unique_ptr<TierBackend>> OpenRemoteTier(const Options& options) {
  return ValidateRemoteOptions(options);
}

}  // namespace kvtier::internal
