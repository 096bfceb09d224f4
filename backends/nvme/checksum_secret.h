// The NVMe tier's keyed checksum from Options: the secret given inline
// (options.nvme.checksum_key) or read from a private file
// (options.nvme.checksum_key_file), which kvtier creates when asked to.
// The file gets the checks the cache files get (no link followed, owned by
// this process's user) and a stricter mode: nobody else may read it either.
#pragma once

#include <optional>
#include <string>

#include "backends/common/keyed_checksum.h"
#include "kvtier/options.h"
#include "kvtier/status.h"

namespace kvtier::internal {

// The largest secret file read: a secret is short; a huge file is a mistake.
inline constexpr size_t kMaxSecretFileBytes = 4096;
// What a created secret file holds: this many bytes from getrandom(2).
inline constexpr size_t kCreatedSecretBytes = 32;

// nullopt when neither checksum_key nor checksum_key_file is set. Errors
// (InvalidArgument naming the field, the path and what to fix): both set;
// create_checksum_key_file without a file; a secret under 16 bytes; a file
// that is a link, not a regular file, another user's, readable or writable
// by group or others, missing (and not to be created), empty or larger than
// kMaxSecretFileBytes. IoError when it cannot be read or created.
Result<std::optional<KeyedChecksum>> NvmeChecksumFromOptions(const NvmeTierOptions& nvme);

// The secret in `path` (checked as above), created first when missing and
// `create`. `field` names the option in errors.
Result<std::string> ReadSecretFile(const std::string& path, bool create,
                                   const std::string& field);

}  // namespace kvtier::internal
