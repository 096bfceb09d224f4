// WriteSessionsFolder: a GeneratedTrace as kv-cache-tester session files,
// one per top-level session, that kvtier-replay --format sessions reads:
//   {"id": "session-000001", "block_size": 512, "hash_id_scope": "global",
//    "start_s": 12.5,
//    "requests": [{"t": 0.0, "in": 2048, "hash_ids": [...]},
//                 {"type": "subagent", "t": 40.0,
//                  "requests": [{"t": 0.0, ...}, ...]}, ...]}
// "t" is seconds from the start of the enclosing session or sub-agent entry;
// "start_s" (kvtier's addition) places the session in time, so a folder
// replays sessions side by side as they arrived.
#pragma once

#include <ostream>
#include <string>

#include "bench/replay/trace_gen.h"
#include "kvtier/status.h"

namespace kvtier::replay {

// Writes session `index` (a top-level one) and its sub-agents as one document.
void WriteSessionJson(const GeneratedTrace& trace, size_t index, std::ostream& out);

// Creates `dir` (which must not exist yet) and writes one file per
// top-level session. IoError naming the file on any failed write.
Status WriteSessionsFolder(const GeneratedTrace& trace, const std::string& dir);

}  // namespace kvtier::replay
