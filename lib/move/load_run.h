// Mover::LoadRun: the context one load's helpers share (mover_load.cc,
// mover_device.cc).
#pragma once

#include <vector>

#include "lib/move/mover.h"
#include "lib/move/transfer_state.h"

namespace kvtier::internal {

struct Mover::LoadRun {
  const Plan& plan;
  EngineMemory engine;
  TransferHandle::State* state;
  std::vector<Status>& results;
  std::vector<int> promotion_of;  // chain block -> its promotion move, or -1
  std::vector<bool> landed;       // per move: the read landed in its promotion slot

  bool cancelled() const { return state != nullptr && state->cancelled(); }
  size_t at(size_t move) const { return plan.moves[move].block - engine.first_block; }
};

}  // namespace kvtier::internal
