// Options from the environment and from JSON (include/kvtier/config.h).
// nlohmann-json stays private to the library: no JSON type in a header.
#include "kvtier/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "lib/config/option_fields.h"

extern char** environ;

namespace kvtier {
namespace {

using internal::FieldKind;
using internal::OptionField;
using internal::OptionFields;
using Json = nlohmann::json;

// KVTIER_* variables that are not options; every other one must be.
constexpr std::string_view kNotOptions[] = {"KVTIER_LIBRARY", "KVTIER_BUILD_TYPE"};

const OptionField* FieldByEnv(std::string_view name) {
  for (const OptionField& f : OptionFields()) {
    if (name == f.env) return &f;
  }
  return nullptr;
}

const OptionField* FieldByJson(std::string_view key) {
  for (const OptionField& f : OptionFields()) {
    if (key == f.json) return &f;
  }
  return nullptr;
}

bool IsNestedObject(std::string_view key) {
  return key == "layout" || key == "gpu" || key == "host" || key == "nvme" ||
         key == "remote" || key == "shadow" || key == "load_cost";
}

// A JSON value as the text SetFromText parses, or InvalidArgument.
Status JsonText(const OptionField& f, const std::string& name, const Json& v,
                std::string* text) {
  const bool strings =
      f.kind == FieldKind::kPathList || f.kind == FieldKind::kEndpointList;
  const bool list = f.kind == FieldKind::kU32List || strings;
  if (list) {
    if (!v.is_array()) return InvalidArgument(name + ": " + v.dump() + " is not a list");
    const char sep = f.kind == FieldKind::kPathList ? ':' : ',';
    for (size_t i = 0; i < v.size(); ++i) {
      const Json& e = v[i];
      const bool ok = strings ? e.is_string() : e.is_number_unsigned();
      if (!ok) {
        return InvalidArgument(name + "[" + std::to_string(i) + "]: " + e.dump() +
                               (strings ? " is not a string" : " is not an integer"));
      }
      if (i > 0) *text += sep;
      *text += e.is_string() ? e.get<std::string>() : e.dump();
    }
    return Status::Ok();
  }
  if (v.is_string()) {
    *text = v.get<std::string>();
    if (f.kind == FieldKind::kPathList && text->empty()) {
      return InvalidArgument(name + ": empty path");
    }
    return Status::Ok();
  }
  if (v.is_boolean() && f.kind == FieldKind::kBool) {
    *text = v.get<bool>() ? "true" : "false";
    return Status::Ok();
  }
  if (v.is_number_integer() || (v.is_number() && f.kind == FieldKind::kDouble)) {
    *text = v.dump();
    return Status::Ok();
  }
  return InvalidArgument(name + ": " + v.dump() + " has the wrong type");
}

Status ApplyJsonValue(const std::string& prefix, const std::string& key, const Json& v,
                      Options* options) {
  const std::string path = prefix.empty() ? key : prefix + "." + key;
  const std::string name = "config." + path;
  const OptionField* f = FieldByJson(path);
  if (f == nullptr) return InvalidArgument(name + ": unknown key");
  std::string text;
  if (Status s = JsonText(*f, name, v, &text); !s.ok()) return s;
  return internal::SetFromText(*f, name, text, options);
}

Status ApplyJsonObject(const Json& doc, Options* options) {
  if (!doc.is_object()) return InvalidArgument("config: not a JSON object");
  for (const auto& [key, value] : doc.items()) {
    if (IsNestedObject(key)) {
      if (!value.is_object()) {
        return InvalidArgument("config." + key + ": not an object of " + key +
                               " options");
      }
      for (const auto& [inner, v] : value.items()) {
        if (Status s = ApplyJsonValue(key, inner, v, options); !s.ok()) return s;
      }
    } else if (Status s = ApplyJsonValue("", key, value, options); !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

}  // namespace

Status ApplyEnvironment(const std::vector<std::pair<std::string, std::string>>& variables,
                        Options* options) {
  Options updated = *options;  // unchanged on error
  for (const auto& [name, value] : variables) {
    if (name.rfind("KVTIER_", 0) != 0) continue;
    const OptionField* f = FieldByEnv(name);
    if (f == nullptr) {
      bool other = false;
      for (std::string_view n : kNotOptions) other = other || name == n;
      if (other) continue;
      return InvalidArgument(name +
                             ": unknown kvtier variable (include/kvtier/config.h "
                             "lists them)");
    }
    if (Status s = internal::SetFromText(*f, name, value, &updated); !s.ok()) return s;
  }
  *options = std::move(updated);
  return Status::Ok();
}

Status ApplyEnvironment(Options* options) {
  std::vector<std::pair<std::string, std::string>> variables;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos || entry.rfind("KVTIER_", 0) != 0) continue;
    variables.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return ApplyEnvironment(variables, options);
}

Status ApplyConfigJson(std::string_view json, Options* options) {
  Json doc = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("config: not valid JSON");
  Options updated = *options;
  try {
    if (Status s = ApplyJsonObject(doc, &updated); !s.ok()) return s;
  } catch (const std::exception& e) {  // nlohmann type errors; never escape
    return InvalidArgument(std::string("config: ") + e.what());
  }
  *options = std::move(updated);
  return Status::Ok();
}

Status ApplyConfigFile(const std::string& path, Options* options) {
  std::ifstream in(path);
  if (!in) return InvalidArgument("config file " + path + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  Status s = ApplyConfigJson(text.str(), options);
  if (s.ok()) return s;
  return Status(s.code(), "config file " + path + ": " + s.message());
}

}  // namespace kvtier
