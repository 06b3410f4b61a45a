// resume: train_state (de)serialization, the resume plan (config checks and allowed changes) and
// trimming metrics.jsonl to a checkpoint's step.
#include "train/resume.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "data/utf8.h"
#include "model/mixer_registry.h"
#include "util/files.h"
#include "train/adamw.h"
#include "util/errors.h"

namespace spectral {

namespace {

using json = nlohmann::json;

// Dotted key path → value, for every leaf of a config JSON.
void flatten(const json& j, const std::string& prefix, std::map<std::string, json>* out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else {
    (*out)[prefix] = j;
  }
}

struct Change {
  std::string key;
  json before, after;
};

std::vector<Change> differences(const json& before, const json& after) {
  std::map<std::string, json> a, b;
  flatten(before, "", &a);
  flatten(after, "", &b);
  std::vector<Change> out;
  for (const auto& [k, v] : b) {
    auto it = a.find(k);
    if (it == a.end() || it->second != v) out.push_back({k, it == a.end() ? json() : it->second, v});
  }
  for (const auto& [k, v] : a)
    if (!b.count(k)) out.push_back({k, v, json()});
  return out;
}

std::string text_of(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string describe(const Change& c) { return c.key + ": " + text_of(c.before) + " -> " + text_of(c.after); }

// Field readers for a train_state that may come from a hostile file.
const json& field(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) throw InputError(where + ": train_state has no \"" + key + "\"");
  return j[key];
}

int int_field(const json& j, const char* key, const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
    throw InputError(where + ": train_state \"" + key + "\" is not a non-negative integer");
  return static_cast<int>(v.get<int64_t>());
}

// A number, or null for a value JSON cannot hold (infinite / NaN).
double number_field(const json& j, const char* key, const std::string& where, double null_value) {
  const json& v = field(j, key, where);
  if (v.is_null()) return null_value;
  if (!v.is_number()) throw InputError(where + ": train_state \"" + key + "\" is not a number");
  return v.get<double>();
}

std::string string_field(const json& j, const char* key, const std::string& where) {
  const json& v = field(j, key, where);
  if (!v.is_string()) throw InputError(where + ": train_state \"" + key + "\" is not a string");
  return v.get<std::string>();
}

json finite_or_null(double x) { return std::isfinite(x) ? json(x) : json(); }

}  // namespace

nlohmann::json train_state_to_json(const TrainState& s) {
  return json{{"step", s.step},
              {"rng", s.rng},
              {"best_val_loss", finite_or_null(s.best_val_loss)},
              {"last_val_loss", finite_or_null(s.last_val_loss)},
              {"loss_sum", s.loss_sum},
              {"loss_count", s.loss_count},
              {"skipped", s.skipped},
              {"skipped_in_a_row", s.skipped_in_a_row},
              {"train_seconds", s.train_seconds},
              {"elapsed_s", s.elapsed_s},
              {"ema_updates", s.ema_updates},
              {"data_chars", s.data_chars},
              {"data_fingerprint", s.data_fingerprint}};
}

TrainState read_train_state(const LoadedCheckpoint& ck, const std::string& where) {
  if (!ck.has_optimizer)
    throw InputError(where + ": has no optimizer state, so it cannot be resumed (best.safetensors holds weights only; "
                     "resume from last.safetensors)");
  const json& j = ck.train_state;
  if (!j.is_object()) throw InputError(where + ": has no train_state, so it cannot be resumed");
  if (!j.contains("rng"))
    throw InputError(where + ": train_state has no \"rng\" (written by an older spectral?), so it cannot be resumed exactly");
  TrainState s;
  s.step = int_field(j, "step", where);
  if (s.step != ck.step)
    throw InputError(where + ": train_state step " + std::to_string(s.step) + " disagrees with metadata step " +
                     std::to_string(ck.step));
  s.rng = string_field(j, "rng", where);
  (void)rng_from_string(s.rng, where);
  s.best_val_loss = number_field(j, "best_val_loss", where, INFINITY);
  s.last_val_loss = number_field(j, "last_val_loss", where, NAN);
  s.loss_sum = number_field(j, "loss_sum", where, NAN);
  if (!std::isfinite(s.loss_sum)) throw InputError(where + ": train_state \"loss_sum\" is not finite");
  s.loss_count = int_field(j, "loss_count", where);
  s.skipped = int_field(j, "skipped", where);
  s.skipped_in_a_row = int_field(j, "skipped_in_a_row", where);
  s.train_seconds = number_field(j, "train_seconds", where, 0);
  s.elapsed_s = number_field(j, "elapsed_s", where, 0);
  if (j.contains("ema_updates")) s.ema_updates = int_field(j, "ema_updates", where);  // absent before train.ema
  const json& chars = field(j, "data_chars", where);
  if (!chars.is_number_unsigned()) throw InputError(where + ": train_state \"data_chars\" is not a non-negative integer");
  s.data_chars = chars.get<uint64_t>();
  s.data_fingerprint = string_field(j, "data_fingerprint", where);
  return s;
}

std::string rng_to_string(const std::mt19937_64& rng) {
  std::ostringstream os;
  os << rng;
  return os.str();
}

std::mt19937_64 rng_from_string(const std::string& text, const std::string& where) {
  std::istringstream is(text);
  std::mt19937_64 rng;
  is >> rng;
  std::string rest;
  if (is.fail() || (is >> rest, !rest.empty()))
    throw InputError(where + ": train_state \"rng\" is not a std::mt19937_64 state");
  return rng;
}

std::string token_fingerprint(const std::vector<int32_t>& tokens) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int32_t t : tokens) {
    for (int k = 0; k < 4; k++) {
      h ^= static_cast<uint8_t>(static_cast<uint32_t>(t) >> (8 * k));
      h *= 0x100000001b3ull;
    }
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

ResumePlan plan_resume(const std::string& dir, const std::vector<std::string>& sets, bool allow_changes) {
  ResumePlan plan;
  plan.dir = dir;
  plan.allow_changes = allow_changes;
  const std::string path = dir + "/last.safetensors";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw InputError("resume: " + path + " does not exist (nothing to resume; a new run is `spectral train --out " + dir + "`)");
  plan.checkpoint = load_checkpoint(path);
  plan.state = read_train_state(plan.checkpoint, "checkpoint " + path);
  const json saved = config_to_json(plan.checkpoint.config);

  // config.json is what the user reads; it must say what the checkpoint says
  const std::string config_path = dir + "/config.json";
  if (std::filesystem::exists(config_path, ec)) {
    Config on_disk;
    try {
      on_disk = load_config_json(read_json_file(config_path));
    } catch (const ConfigError& e) {
      throw InputError("resume: " + config_path + " is not a valid config (" + e.what() +
                       "); the run's config is the one in " + path + ": restore config.json or delete it");
    }
    const auto diff = differences(saved, config_to_json(on_disk));
    if (!diff.empty())
      throw InputError("resume: " + config_path + " disagrees with " + path + " at " + describe(diff[0]) +
                       (diff.size() > 1 ? " (and " + std::to_string(diff.size() - 1) + " more keys)" : "") +
                       "; the checkpoint's config is the run's: restore config.json or delete it, and change keys with "
                       "--set ... --allow-changes");
  } else {
    spdlog::warn("resume: {} is missing; it is written again from the checkpoint", config_path);
  }

  json j = saved;
  for (const auto& s : sets) apply_override(j, s);
  plan.config = load_config_json(j);
  const auto changes = differences(saved, config_to_json(plan.config));
  for (const auto& c : changes) {
    if (c.key.rfind("model.", 0) == 0)
      throw ConfigError("resume: " + describe(c) + ": the model cannot change on resume (the checkpoint's weights have its shapes)");
    if (c.key == "train.optimizer")
      throw ConfigError("resume: " + describe(c) +
                        ": the optimizer cannot change on resume (the checkpoint's optimizer state is the other one's); "
                        "train another run with --out for the other optimizer");
  }
  if (!changes.empty() && !allow_changes) {
    std::string list;
    for (size_t i = 0; i < changes.size(); i++) list += (i ? ", " : "") + describe(changes[i]);
    throw ConfigError("resume: --set would change " + list +
                      "; a resumed run keeps its checkpoint's config: add --allow-changes to change it anyway");
  }
  const TrainConfig& before = plan.checkpoint.config.train;
  const TrainConfig& after = plan.config.train;
  for (const auto& c : changes) {
    plan.changes.push_back(describe(c));
    spdlog::warn("resume: changing {} (the run is no longer the one its first steps belong to)", describe(c));
  }
  if (after.steps < plan.state.step)
    throw ConfigError("resume: train.steps = " + std::to_string(after.steps) + " is below the checkpoint's step " +
                      std::to_string(plan.state.step));
  if (after.steps != before.steps || after.lr != before.lr || after.min_lr != before.min_lr ||
      after.warmup_steps != before.warmup_steps || after.schedule != before.schedule ||
      (after.schedule == "time" && after.time_limit_s != before.time_limit_s)) {
    const int s = plan.state.step;
    const double t = plan.state.elapsed_s;
    spdlog::warn("resume: the learning-rate schedule changes: at step {} the rate goes from {:.3e} to {:.3e}", s + 1,
                 learning_rate(before, s, t), learning_rate(after, s, t));
  }
  return plan;
}

size_t trim_metrics(const std::string& path, int step) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return 0;
  const std::string bytes = read_file_bytes(path);
  std::string kept;
  size_t dropped = 0, pos = 0;
  while (pos < bytes.size()) {
    const size_t nl = bytes.find('\n', pos);
    const bool complete = nl != std::string::npos;
    const std::string line = bytes.substr(pos, complete ? nl - pos : std::string::npos);
    pos = complete ? nl + 1 : bytes.size();
    if (line.empty()) continue;
    bool keep = false;
    if (complete) {
      try {
        const json row = json::parse(line);
        keep = row.is_object() && row.contains("step") && row["step"].is_number_integer() && row["step"].get<int64_t>() <= step;
      } catch (const json::exception&) {  // not JSON, or a number out of range
      }
    }
    if (keep) {
      kept += line;
      kept += '\n';
    } else {
      dropped++;
    }
  }
  if (dropped > 0) write_text_file_atomic(path, kept);
  return dropped;
}

}  // namespace spectral
