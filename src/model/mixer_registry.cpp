// mixer_registry: the list itself (one line per mixer; each entry is made beside its layer, in
// model/mixer_<name>_spec.cpp), and what is read off it: the config rules, the factory, the help
// text, parameter counts and the benchmark labels.
#include "model/mixer_registry.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "model/params.h"

namespace spectral {

// The entries, each defined in its mixer's model/mixer_<name>_spec.cpp.
MixerSpec fft_mixer_spec();
MixerSpec rot_mixer_spec();
MixerSpec attention_mixer_spec();
MixerSpec local_mixer_spec();

const std::vector<MixerSpec>& mixers() {
  static const std::vector<MixerSpec> all = {
      fft_mixer_spec(),
      rot_mixer_spec(),
      attention_mixer_spec(),
      local_mixer_spec(),
  };
  return all;
}

const MixerSpec* find_mixer(const std::string& name) {
  for (const auto& s : mixers())
    if (s.name == name) return &s;
  return nullptr;
}

std::string mixer_names(const std::string& sep) {
  std::string out;
  for (const auto& s : mixers()) out += (out.empty() ? "" : sep) + s.name;
  return out;
}

// ---- config --------------------------------------------------------------------------------

void check_mixers(const ModelConfig& m) {
  for (size_t i = 0; i < m.mixer.size(); i++)
    if (!find_mixer(m.mixer[i]))
      throw ConfigError("config key model.mixer[" + std::to_string(i) + "]: unknown mixer " +
                        quote_for_message(m.mixer[i]) + " (known: " + mixer_names(", ") + ")");
  for (const auto& s : mixers()) {
    if (!s.check) continue;
    bool used = false;
    for (const auto& name : m.mixer) used |= name == s.name;
    s.check(m, used);
  }
}

Config load_config_json(const nlohmann::json& j) { return config_from_json(j, check_mixers); }

void validate_config(const Config& c) { validate(c, check_mixers); }

std::string describe_mixers() {
  const nlohmann::json defaults = config_to_json(default_config());
  auto with_default = [&](const std::string& key) {
    const nlohmann::json* node = &defaults;
    std::stringstream parts(key);
    std::string part;
    while (std::getline(parts, part, '.')) {
      if (!node->contains(part)) throw std::logic_error("mixer registry: no config key " + key);
      node = &(*node)[part];
    }
    return key + " = " + node->dump();
  };
  std::ostringstream os;
  os << "\nmixers (the names model.mixer takes; each reads model.d_model and model.context, and the keys listed):\n";
  size_t width = 0;
  for (const auto& s : mixers()) width = std::max(width, s.name.size());
  const std::string indent(4 + width + 2, ' ');
  for (const auto& s : mixers()) {
    os << "    " << s.name << std::string(width - s.name.size() + 2, ' ') << s.summary << "\n";
    if (!s.variants.empty()) {
      os << indent << "variants (" << s.variant_key << "):";
      for (size_t i = 0; i < s.variants.size(); i++) os << (i ? " | " : " ") << s.variants[i];
      os << "\n";
    }
    if (!s.keys.empty()) {
      os << indent << "keys:";
      for (size_t i = 0; i < s.keys.size(); i++) os << (i ? ", " : " ") << with_default(s.keys[i]);
      os << "\n";
    }
  }
  return os.str();
}

// ---- layers --------------------------------------------------------------------------------

template <typename T>
std::unique_ptr<Mixer<T>> make_mixer(const std::string& name, const ModelConfig& cfg) {
  const MixerSpec* s = find_mixer(name);
  if (!s) throw std::invalid_argument("unknown mixer \"" + name + "\"");
  if constexpr (std::is_same_v<T, float>)
    return s->make_float(cfg);
  else
    return s->make_double(cfg);
}

template std::unique_ptr<Mixer<float>> make_mixer<float>(const std::string&, const ModelConfig&);
template std::unique_ptr<Mixer<double>> make_mixer<double>(const std::string&, const ModelConfig&);

int64_t mixer_param_count(const std::string& name, const ModelConfig& cfg) {
  ParamLayout layout;
  make_mixer<float>(name, cfg)->declare(layout, "");
  return static_cast<int64_t>(layout.total());
}

std::string describe_layer(const std::string& name, const ModelConfig& cfg) {
  const MixerSpec* s = find_mixer(name);
  if (!s) throw std::invalid_argument("unknown mixer \"" + name + "\"");
  if (s->describe) return s->describe(cfg);
  return s->variants.empty() ? s->name : s->name + "/" + s->variant_of(cfg);
}

// ---- labels ---------------------------------------------------------------------------------

std::vector<std::string> mixer_labels(const MixerSpec& spec) {
  if (spec.variants.empty()) return {spec.name};
  std::vector<std::string> out;
  for (const auto& v : spec.variants) out.push_back(spec.name + "-" + v);
  return out;
}

std::vector<std::string> all_mixer_labels() {
  std::vector<std::string> out;
  for (const auto& s : mixers())
    for (auto& l : mixer_labels(s)) out.push_back(std::move(l));
  return out;
}

std::string mixer_label(const std::string& name, const ModelConfig& cfg) {
  const MixerSpec* s = find_mixer(name);
  if (!s) throw std::invalid_argument("unknown mixer \"" + name + "\"");
  return s->variants.empty() ? s->name : s->name + "-" + s->variant_of(cfg);
}

const MixerSpec* find_mixer_label(const std::string& label, std::string* variant) {
  for (const auto& s : mixers())
    for (const auto& l : mixer_labels(s))
      if (l == label) {
        if (variant) *variant = s.variants.empty() ? "" : label.substr(s.name.size() + 1);
        return &s;
      }
  return nullptr;
}

void set_mixer_label(ModelConfig& cfg, const std::string& label) {
  std::string variant;
  const MixerSpec* s = find_mixer_label(label, &variant);
  if (!s) throw std::invalid_argument("unknown mixer label \"" + label + "\"");
  cfg.mixer.assign(static_cast<size_t>(std::max(1, cfg.n_layers)), s->name);
  if (!variant.empty()) s->set_variant(cfg, variant);
}

}  // namespace spectral
