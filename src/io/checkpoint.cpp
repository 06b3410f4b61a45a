// checkpoint: save/load of model + metadata (+ optimizer state) through io/safetensors.
#include "io/checkpoint.h"

#include <cstdio>

#include "io/safetensors.h"
#include "model/mixer_registry.h"
#include "util/errors.h"

namespace spectral {

namespace {

std::string shape_str(const std::vector<int>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); i++) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}


const std::string& meta(const SafetensorsFile& f, const std::string& key, const std::string& path) {
  auto it = f.metadata.find(key);
  if (it == f.metadata.end()) throw InputError("checkpoint " + path + ": metadata has no \"" + key + "\" entry");
  return it->second;
}

}  // namespace

void save_checkpoint(const std::string& path, const Model<float>& model, const Config& cfg, const Vocab& vocab, int step,
                     const TrainingState* state, const std::vector<float>* weights) {
  const std::vector<float>& w = weights ? *weights : model.params;
  std::vector<TensorRef> tensors;
  for (const auto& s : model.layout().specs()) tensors.push_back({s.name, s.shape, w.data() + s.offset});
  if (state && state->m && state->v) {
    for (const auto& s : model.layout().specs()) {
      tensors.push_back({"optim.m." + s.name, s.shape, state->m->data() + s.offset});
      tensors.push_back({"optim.v." + s.name, s.shape, state->v->data() + s.offset});
    }
  }
  if (state && state->raw)
    for (const auto& s : model.layout().specs())
      tensors.push_back({"optim.raw." + s.name, s.shape, state->raw->data() + s.offset});
  std::map<std::string, std::string> md;
  md["format"] = kCheckpointFormat;
  md["format_version"] = std::to_string(kCheckpointVersion);
  md["config"] = config_to_json(cfg).dump();
  md["vocab"] = vocab.to_json_string();
  md["step"] = std::to_string(step);
  if (state) md["train_state"] = state->extra.dump();
  write_safetensors(path, tensors, md);
}

LoadedCheckpoint load_checkpoint(const std::string& path, CheckpointContent what) {
  const bool everything = what == CheckpointContent::Everything;
  const SafetensorsFile f =
      read_safetensors(path, [everything](const std::string& name) { return everything || name.rfind("optim.", 0) != 0; });
  const std::string where = "checkpoint " + path;
  auto fmt = f.metadata.find("format");
  if (fmt == f.metadata.end() || fmt->second != kCheckpointFormat)
    throw InputError(where + ": not a spectral checkpoint (metadata \"format\" is " +
                     (fmt == f.metadata.end() ? std::string("missing") : "\"" + printable(fmt->second) + "\"") + ")");
  const std::string& ver = meta(f, "format_version", path);
  if (ver != std::to_string(kCheckpointVersion))
    throw InputError(where + ": format_version " + printable(ver) + " is not supported (this build reads " +
                     std::to_string(kCheckpointVersion) + ")");
  LoadedCheckpoint ck;
  try {
    ck.config = load_config_json(nlohmann::json::parse(meta(f, "config", path)));
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(where + ": metadata config is not valid JSON (error at byte " + std::to_string(e.byte) + ")");
  } catch (const nlohmann::json::exception&) {  // a number too large for a double
    throw InputError(where + ": metadata config is not valid JSON (a number out of range)");
  } catch (const ConfigError& e) {
    throw InputError(where + ": metadata config: " + e.what());
  }
  ck.vocab = Vocab::from_json_string(meta(f, "vocab", path), where + " vocab");
  {
    const std::string& text = meta(f, "step", path);
    const bool digits = !text.empty() && text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) throw InputError(where + ": metadata step \"" + printable(text) + "\" is not a non-negative integer");
    ck.step = std::stoi(text);
  }
  if (auto it = f.metadata.find("train_state"); it != f.metadata.end()) {
    try {
      ck.train_state = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(where + ": metadata train_state is not valid JSON");
    }
  }
  // Check the file against the layout its config implies before allocating that model: a hostile
  // config may ask for any size, the file's tensors may not. Every layer has at least 6 tensors.
  size_t n_weights = 0;
  for (const auto& [name, t] : f.tensors) n_weights += name.rfind("optim.", 0) != 0;
  if ((size_t)ck.config.model.n_layers * 6 > n_weights)
    throw InputError(where + ": the config has " + std::to_string(ck.config.model.n_layers) + " layers but the file holds only " +
                     std::to_string(n_weights) + " weight tensors");
  const ParamLayout layout = Model<float>::layout_for(ck.config.model, ck.vocab.size());
  for (const auto& s : layout.specs()) {
    auto it = f.tensors.find(s.name);
    if (it == f.tensors.end())
      throw InputError(where + ": tensor " + s.name + " is missing (the config needs it, shape " + shape_str(s.shape) + ")");
    if (it->second.shape != s.shape)
      throw InputError(where + ": tensor " + s.name + " has shape " + shape_str(it->second.shape) + ", the config needs " +
                       shape_str(s.shape));
  }
  auto base_name = [](const std::string& name) {
    for (const char* prefix : {"optim.m.", "optim.v.", "optim.raw."})
      if (name.rfind(prefix, 0) == 0) return name.substr(std::char_traits<char>::length(prefix));
    return name;
  };
  for (const auto& [name, t] : f.tensors) {
    const std::string base = base_name(name);
    if (!layout.find(base))
      throw InputError(where + ": unexpected tensor " + printable(name) + " (not part of the configured model)");
  }
  ck.model = std::make_unique<Model<float>>(ck.config.model, ck.vocab.size());
  Model<float>& m = *ck.model;
  size_t optim_found = 0, raw_found = 0;
  for (const auto& s : m.layout().specs()) {
    // copies the tensor into dst (made zero-filled at its first tensor) when it is read
    auto copy = [&](const std::string& name, std::vector<float>& dst, bool read) {
      auto it = f.tensors.find(name);
      if (it == f.tensors.end()) return false;
      if (it->second.shape != s.shape)
        throw InputError(where + ": tensor " + name + " has shape " + shape_str(it->second.shape) + ", the config needs " +
                         shape_str(s.shape));
      if (!read) return true;
      if (dst.size() != m.params.size()) dst.assign(m.params.size(), 0.f);
      std::copy(it->second.data.begin(), it->second.data.end(), dst.begin() + s.offset);
      return true;
    };
    copy(s.name, m.params, true);
    optim_found += copy("optim.m." + s.name, ck.m, everything);
    optim_found += copy("optim.v." + s.name, ck.v, everything);
    raw_found += copy("optim.raw." + s.name, ck.raw, everything);
  }
  const size_t n_specs = m.layout().specs().size();
  if (optim_found != 0 && optim_found != 2 * n_specs)
    throw InputError(where + ": optimizer state is incomplete (" + std::to_string(optim_found) + " of " +
                     std::to_string(2 * n_specs) + " moment tensors)");
  if (raw_found != 0 && raw_found != n_specs)
    throw InputError(where + ": training weights are incomplete (" + std::to_string(raw_found) + " of " +
                     std::to_string(n_specs) + " optim.raw tensors)");
  if (raw_found != 0 && optim_found == 0)
    throw InputError(where + ": has training weights (optim.raw) but no optimizer state");
  ck.has_optimizer = optim_found != 0;
  return ck;
}

}  // namespace spectral
