// The C API of the scheduler/worker split (kvtier_c.h, kvtier/split.h): a
// thin shell that checks pointers and counts, copies byte strings into
// library-owned kvtier_bytes, and never lets an exception cross into C.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "kvtier/hash.h"
#include "kvtier/split.h"
#include "lib/c_api/c_api_support.h"
#include "lib/split/messages.h"

struct kvtier_scheduler {
  std::unique_ptr<kvtier::Scheduler> scheduler;
  // Names engine keys (kvtier_scheduler_engine_key_chain): the namespace of
  // the options with rank 0, the chains a rank-0 Store of them names.
  kvtier::BlockHash root;
};

struct kvtier_worker {
  std::unique_ptr<kvtier_c_log_target> log;  // first: outlives `worker`
  std::unique_ptr<kvtier::Worker> worker;
};

namespace {

using kvtier::Result;
using kvtier::Status;
using kvtier::internal::CFail;
using kvtier::internal::CGuarded;
using kvtier::internal::ChainOf;
using kvtier::internal::CheckOptionsArgument;
using kvtier::internal::CNull;

std::span<const std::byte> BytesOf(const uint8_t* data, size_t n) {
  return {reinterpret_cast<const std::byte*>(data), n};
}

// Copies `bytes` into malloc'd memory owned by *out (kvtier_bytes_free).
kvtier_code Give(const std::vector<std::byte>& bytes, kvtier_bytes* out,
                 kvtier_error* err) {
  out->data = nullptr;
  out->size = 0;
  if (bytes.empty()) return KVTIER_OK;
  auto* data = static_cast<uint8_t*>(std::malloc(bytes.size()));
  if (data == nullptr) return CFail(kvtier::ResourceExhausted("out of memory"), err);
  std::memcpy(data, bytes.data(), bytes.size());
  out->data = data;
  out->size = bytes.size();
  return KVTIER_OK;
}

kvtier_code GivePlan(const kvtier::PlanTicket& t, kvtier_plan* out, kvtier_error* err) {
  out->ticket = t.ticket;
  out->kind = static_cast<kvtier_plan_kind>(t.kind);
  out->blocks = t.blocks;
  return Give(t.bytes, &out->bytes, err);
}

}  // namespace

extern "C" {

void kvtier_bytes_free(kvtier_bytes* bytes) {
  if (bytes == nullptr) return;
  std::free(bytes->data);
  bytes->data = nullptr;
  bytes->size = 0;
}

kvtier_code kvtier_scheduler_open(const kvtier_options* options, uint32_t ranks,
                                  kvtier_scheduler** out, kvtier_error* err) {
  if (kvtier_code c = CheckOptionsArgument(options, err); c != KVTIER_OK) return c;
  if (out == nullptr) return CNull("out", err);
  return CGuarded(err, [&] {
    kvtier_c_log_target unused;
    const kvtier::Options o = kvtier::internal::OptionsFromC(*options, &unused);
    auto opened = kvtier::Scheduler::Open(o, ranks);
    if (!opened.ok()) return CFail(opened.status(), err);
    const kvtier::Namespace ns{o.model_id, o.layout.Fingerprint(), o.CodecTag(),
                               /*rank=*/0, o.tenant_salt};
    *out = new kvtier_scheduler{std::move(opened).value(),
                                kvtier::PrefixHasher::NamespaceRoot(ns)};
    return KVTIER_OK;
  });
}

void kvtier_scheduler_close(kvtier_scheduler* scheduler) { delete scheduler; }

kvtier_code kvtier_scheduler_join(kvtier_scheduler* scheduler, const uint8_t* hello,
                                  size_t n_hello, kvtier_bytes* reply,
                                  kvtier_error* err) {
  if (scheduler == nullptr) return CNull("scheduler", err);
  if (hello == nullptr && n_hello > 0) return CNull("hello", err);
  if (reply == nullptr) return CNull("reply", err);
  return CGuarded(err, [&] {
    Result<std::vector<std::byte>> r =
        scheduler->scheduler->Join(BytesOf(hello, n_hello));
    if (!r.ok()) return CFail(r.status(), err);
    return Give(*r, reply, err);
  });
}

int kvtier_scheduler_ready(const kvtier_scheduler* scheduler) {
  return scheduler != nullptr && scheduler->scheduler->Ready() ? 1 : 0;
}

kvtier_code kvtier_scheduler_lookup(kvtier_scheduler* scheduler,
                                    const kvtier_block_hash* chain, size_t n_blocks,
                                    size_t* hit_blocks, kvtier_error* err) {
  if (scheduler == nullptr) return CNull("scheduler", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (hit_blocks == nullptr) return CNull("hit_blocks", err);
  return CGuarded(err, [&] {
    *hit_blocks = scheduler->scheduler->Lookup(ChainOf(chain, n_blocks)).blocks;
    return KVTIER_OK;
  });
}

kvtier_code kvtier_scheduler_engine_key_chain(
    const kvtier_scheduler* scheduler, kvtier_key_profile profile, uint32_t group,
    const uint8_t* key_bytes, size_t key_bytes_len, const size_t* key_sizes,
    size_t n_keys, kvtier_block_hash* out, size_t n_out, kvtier_error* err) {
  if (scheduler == nullptr) return CNull("scheduler", err);
  return kvtier::internal::EngineKeyChainC(scheduler->root, profile, group, key_bytes,
                                           key_bytes_len, key_sizes, n_keys, out, n_out,
                                           err);
}

kvtier_code kvtier_scheduler_plan_load(kvtier_scheduler* scheduler,
                                       const kvtier_block_hash* chain, size_t n_blocks,
                                       kvtier_plan* out, kvtier_error* err) {
  if (scheduler == nullptr) return CNull("scheduler", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (out == nullptr) return CNull("out", err);
  return CGuarded(err, [&] {
    Result<kvtier::PlanTicket> t =
        scheduler->scheduler->PlanLoad(ChainOf(chain, n_blocks));
    if (!t.ok()) return CFail(t.status(), err);
    return GivePlan(*t, out, err);
  });
}

kvtier_code kvtier_scheduler_plan_save(kvtier_scheduler* scheduler,
                                       const kvtier_block_hash* chain, size_t n_blocks,
                                       size_t first_block, const uint8_t* freed,
                                       size_t n_freed, kvtier_plan* out,
                                       kvtier_error* err) {
  if (scheduler == nullptr) return CNull("scheduler", err);
  if (chain == nullptr && n_blocks > 0) return CNull("chain", err);
  if (freed == nullptr && n_freed > 0) return CNull("freed", err);
  if (out == nullptr) return CNull("out", err);
  return CGuarded(err, [&] {
    Result<kvtier::PlanTicket> t = scheduler->scheduler->PlanSave(
        ChainOf(chain, n_blocks), first_block, std::span<const uint8_t>(freed, n_freed));
    if (!t.ok()) return CFail(t.status(), err);
    return GivePlan(*t, out, err);
  });
}

kvtier_code kvtier_scheduler_take_write_down(kvtier_scheduler* scheduler,
                                             size_t max_blocks, kvtier_plan* out,
                                             kvtier_error* err) {
  if (scheduler == nullptr) return CNull("scheduler", err);
  if (out == nullptr) return CNull("out", err);
  return CGuarded(err, [&] {
    std::vector<kvtier::PlanTicket> ts = scheduler->scheduler->TakeWriteDowns(max_blocks);
    kvtier::PlanTicket none;
    none.kind = kvtier::PlanTicket::Kind::kWriteDown;
    return GivePlan(ts.empty() ? none : ts.front(), out, err);
  });
}

kvtier_code kvtier_scheduler_commit(kvtier_scheduler* scheduler, uint64_t ticket,
                                    const uint8_t* const* results, const size_t* sizes,
                                    size_t n_results, size_t* blocks,
                                    size_t* ranks_failed, kvtier_error* err) {
  if (scheduler == nullptr) return CNull("scheduler", err);
  if (n_results > 0 && (results == nullptr || sizes == nullptr)) {
    return CNull(results == nullptr ? "results" : "sizes", err);
  }
  if (blocks == nullptr) return CNull("blocks", err);
  return CGuarded(err, [&] {
    std::vector<std::vector<std::byte>> copies;
    for (size_t i = 0; i < n_results; ++i) {
      if (results[i] == nullptr && sizes[i] > 0) return CNull("results[i]", err);
      const std::span<const std::byte> b = BytesOf(results[i], sizes[i]);
      copies.emplace_back(b.begin(), b.end());
    }
    Result<kvtier::CommitOutcome> r = scheduler->scheduler->Commit(ticket, copies);
    if (!r.ok()) return CFail(r.status(), err);
    *blocks = r->blocks;
    if (ranks_failed != nullptr) *ranks_failed = r->ranks_failed;
    return KVTIER_OK;
  });
}

kvtier_code kvtier_worker_open(const kvtier_options* options, kvtier_worker** out,
                               kvtier_error* err) {
  if (kvtier_code c = CheckOptionsArgument(options, err); c != KVTIER_OK) return c;
  if (out == nullptr) return CNull("out", err);
  return CGuarded(err, [&] {
    auto handle = std::make_unique<kvtier_worker>();
    handle->log = std::make_unique<kvtier_c_log_target>();
    auto opened =
        kvtier::Worker::Open(kvtier::internal::OptionsFromC(*options, handle->log.get()));
    if (!opened.ok()) return CFail(opened.status(), err);
    handle->worker = std::move(opened).value();
    *out = handle.release();
    return KVTIER_OK;
  });
}

void kvtier_worker_close(kvtier_worker* worker) { delete worker; }

kvtier_code kvtier_worker_hello(const kvtier_worker* worker, kvtier_bytes* out,
                                kvtier_error* err) {
  if (worker == nullptr) return CNull("worker", err);
  if (out == nullptr) return CNull("out", err);
  return CGuarded(err, [&] { return Give(worker->worker->Hello(), out, err); });
}

kvtier_code kvtier_worker_apply_join(kvtier_worker* worker, const uint8_t* reply,
                                     size_t n_reply, kvtier_error* err) {
  if (worker == nullptr) return CNull("worker", err);
  if (reply == nullptr && n_reply > 0) return CNull("reply", err);
  return CGuarded(err, [&] {
    if (Status s = worker->worker->ApplyJoin(BytesOf(reply, n_reply)); !s.ok()) {
      return CFail(s, err);
    }
    return KVTIER_OK;
  });
}

kvtier_code kvtier_worker_execute(kvtier_worker* worker, const uint8_t* plan,
                                  size_t n_plan, const kvtier_segment* segments,
                                  size_t n_segments, kvtier_bytes* result,
                                  kvtier_error* err) {
  if (worker == nullptr) return CNull("worker", err);
  if (plan == nullptr && n_plan > 0) return CNull("plan", err);
  if (segments == nullptr && n_segments > 0) return CNull("segments", err);
  if (result == nullptr) return CNull("result", err);
  return CGuarded(err, [&] {
    const std::vector<kvtier::Segment> segs =
        kvtier::internal::SegmentsOf(segments, n_segments);
    Result<std::vector<std::byte>> r =
        worker->worker->Execute(BytesOf(plan, n_plan), segs);
    if (!r.ok()) return CFail(r.status(), err);
    return Give(*r, result, err);
  });
}

kvtier_code kvtier_worker_result_moves(const uint8_t* result, size_t n_result,
                                       size_t* moves, size_t* failed, kvtier_error* err) {
  if (result == nullptr && n_result > 0) return CNull("result", err);
  if (moves == nullptr) return CNull("moves", err);
  if (failed == nullptr) return CNull("failed", err);
  return CGuarded(err, [&] {
    Result<kvtier::internal::Results> r =
        kvtier::internal::DecodeResults(BytesOf(result, n_result));
    if (!r.ok()) return CFail(r.status(), err);
    *moves = r->codes.size();
    *failed = static_cast<size_t>(
        std::count_if(r->codes.begin(), r->codes.end(),
                      [](kvtier::StatusCode c) { return c != kvtier::StatusCode::kOk; }));
    return KVTIER_OK;
  });
}

}  // extern "C"
