// WriteSessionsFolder: generated sessions as kv-cache-tester JSON files.
#include "bench/replay/trace_gen_writer.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvtier::replay {
namespace {

nlohmann::json RequestJson(const GenRequest& r, double origin_s) {
  return {{"t", r.time_s - origin_s}, {"in", r.input_tokens}, {"hash_ids", r.ids}};
}

}  // namespace

void WriteSessionJson(const GeneratedTrace& trace, size_t index, std::ostream& out) {
  const GenSession& s = trace.sessions[index];
  const double start = s.requests.front().time_s;
  // The session's own requests and its sub-agent entries, by time.
  std::vector<std::pair<double, nlohmann::json>> items;
  for (const GenRequest& r : s.requests)
    items.emplace_back(r.time_s, RequestJson(r, start));
  for (size_t a = index + 1; a < trace.sessions.size(); ++a) {
    const GenSession& sub = trace.sessions[a];
    if (sub.parent != static_cast<int>(index)) continue;
    const double sub_start = sub.requests.front().time_s;
    nlohmann::json entry = {{"type", "subagent"}, {"t", sub_start - start}};
    entry["requests"] = nlohmann::json::array();
    for (const GenRequest& r : sub.requests) {
      entry["requests"].push_back(RequestJson(r, sub_start));
    }
    items.emplace_back(sub_start, std::move(entry));
  }
  std::stable_sort(items.begin(), items.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  char id[32];
  std::snprintf(id, sizeof id, "session-%06zu", index);
  nlohmann::json doc = {{"id", id},
                        {"block_size", trace.block_tokens},
                        {"hash_id_scope", "global"},
                        {"start_s", start}};
  doc["requests"] = nlohmann::json::array();
  for (auto& item : items) doc["requests"].push_back(std::move(item.second));
  out << doc.dump() << '\n';
}

Status WriteSessionsFolder(const GeneratedTrace& trace, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec)) return InvalidArgument(dir + ": exists; give a new folder");
  if (!fs::create_directories(dir, ec)) {
    return IoError(dir + ": cannot create: " + ec.message());
  }
  for (size_t i = 0; i < trace.sessions.size(); ++i) {
    if (trace.sessions[i].parent >= 0 || trace.sessions[i].requests.empty()) continue;
    char name[48];
    std::snprintf(name, sizeof name, "/session-%06zu.json", i);
    const std::string path = dir + name;
    std::ofstream out(path);
    WriteSessionJson(trace, i, out);
    out.close();
    if (!out) return IoError(path + ": write failed");
  }
  return Status::Ok();
}

}  // namespace kvtier::replay
