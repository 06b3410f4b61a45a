// config: THE table of every configuration key, its default and what it means. default_config(),
// JSON loading, --set overrides, the resolved-config dump and `spectral train --help-config` all
// read this one table; nothing else in the code base states a default. The mixers themselves (their
// names, variants and rules) are model/mixer_registry's: validation here runs its check.
#include "config/config.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <variant>

namespace spectral {

std::string quote_for_message(const std::string& s) {
  std::string q = nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return q.size() > 60 ? q.substr(0, 56) + "...\"" : q;
}

void check_positive(const char* path, double v) {
  if (!(v > 0)) throw ConfigError(std::string("config key ") + path + ": must be positive, got " + std::to_string(v));
}

namespace {

// A key path or --set argument for a one-line message: control characters shown as \xNN.
std::string clean(const std::string& s) {
  std::string out;
  char buf[8];
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) {
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

using Ref = std::variant<int*, double*, bool*, std::string*, std::vector<std::string>*>;
using Value = std::variant<int, double, bool, std::string, std::vector<std::string>>;

struct Field {
  const char* path;
  Ref ref;
  Value def;
  const char* doc;
};

// The table. Order = order of the docs and of the resolved config.
std::vector<Field> fields(Config& c) {
  using S = std::vector<std::string>;
  return {
      // model
      {"model.d_model", &c.model.d_model, 128, "width of the residual stream"},
      {"model.n_layers", &c.model.n_layers, 4, "number of blocks (mixer + MLP)"},
      {"model.n_heads", &c.model.n_heads, 4, "heads of the mixers that have heads (d_model must divide by it)"},
      {"model.context", &c.model.context, 256, "context length T_max in characters"},
      {"model.mixer", &c.model.mixer, S{"fft"},
       "mixer of every layer: one name or a list with one name per layer (the mixers are listed after the keys)"},
      {"model.mlp_ratio", &c.model.mlp_ratio, 4, "MLP hidden width = mlp_ratio * d_model"},
      {"model.activation", &c.model.activation, std::string("gelu"),
       "MLP activation: gelu (tanh form) | relu2 (max(x, 0) squared)"},
      {"model.pos_emb", &c.model.pos_emb, std::string("learned"), "position embedding: learned | none"},
      {"model.tie_embeddings", &c.model.tie_embeddings, true, "output projection shares the token embedding"},
      {"model.dropout", &c.model.dropout, 0.0,
       "training only: dropout rate on the embedding and on every mixer and MLP output; 0 = off"},
      {"model.zero_init_out", &c.model.zero_init_out, false,
       "the blocks' output projections (each mixer's w_out and mlp.w2) start at zero: every block starts as the identity"},
      {"model.keep_activations_mib", &c.model.keep_activations_mib, 256,
       "training: backward reuses the MLP's act(h) and the blocks' normalized inputs from forward while they take at most this many MiB (all layers), else recomputes them; same results either way; 0 = always recompute"},
      {"model.fft.gate", &c.model.fft.gate, true, "fft: multiplicative gate out = Wo((Wg x) * y)"},
      {"model.fft.kernel_std", &c.model.fft.kernel_std, 0.3, "fft: scale of the initial kernel taps"},
      {"model.fft.decay_min", &c.model.fft.decay_min, 0.005, "fft: slowest initial kernel decay rate (1/positions)"},
      {"model.fft.decay_max", &c.model.fft.decay_max, 0.5, "fft: fastest initial kernel decay rate (1/positions)"},
      {"model.fft.step_block", &c.model.fft.step_block, 64,
       "fft generation: inputs of one block summed directly, earlier blocks added through FFTs (exact); 0 = sum the whole history directly"},
      {"model.rot.variant", &c.model.rot.variant, std::string("lowrank"), "rot: its variant (listed with the mixers after the keys)"},
      {"model.rot.rank", &c.model.rot.rank, 0, "rot lowrank: width r of theta; 0 = d_model/4"},
      {"model.local.window", &c.model.local.window, 64, "local: keys each query sees (itself included)"},
      // train
      {"train.batch_size", &c.train.batch_size, 16, "sequences per step"},
      {"train.replicas", &c.train.replicas, 1,
       "copies of the model that each take an equal share of every batch on a thread of their own, their gradients "
       "then averaged (as that many processes under mpirun would); the batch (each process's share) must divide by it; "
       "1 = one model whose every operation uses all threads; 0 = one per thread (the most threads that divide the batch)"},
      {"train.steps", &c.train.steps, 2000, "optimizer steps (the schedule's length)"},
      {"train.lr", &c.train.lr, 3e-3, "peak learning rate"},
      {"train.min_lr", &c.train.min_lr, 3e-4, "learning rate at the end of the cosine decay"},
      {"train.warmup_steps", &c.train.warmup_steps, 100, "linear warmup steps"},
      {"train.weight_decay", &c.train.weight_decay, 0.1, "AdamW decoupled weight decay (matrices only)"},
      {"train.beta1", &c.train.beta1, 0.9, "AdamW beta1"},
      {"train.beta2", &c.train.beta2, 0.99, "AdamW beta2"},
      {"train.grad_clip", &c.train.grad_clip, 1.0, "global gradient-norm clip; 0 = off"},
      {"train.optimizer", &c.train.optimizer, std::string("adamw"),
       "adamw (every tensor) | muon (Muon for the blocks' 2-D projections, AdamW for the rest: embeddings, norms, "
       "biases, kernels; the list is logged at the start)"},
      {"train.muon_lr", &c.train.muon_lr, 0.02,
       "muon: peak learning rate of the Muon tensors (the schedule of train.lr, scaled by muon_lr / lr)"},
      {"train.muon_momentum", &c.train.muon_momentum, 0.95, "muon: momentum (Nesterov)"},
      {"train.muon_weight_decay", &c.train.muon_weight_decay, 0.0, "muon: decoupled weight decay of the Muon tensors"},
      {"train.ema", &c.train.ema, 0.0,
       "decay of an average of the weights used for validation, best.safetensors and last.safetensors' weights; 0 = off"},
      {"train.eval_interval", &c.train.eval_interval, 250, "steps between validation evaluations"},
      {"train.eval_batches", &c.train.eval_batches, 20, "validation batches per evaluation (fixed windows)"},
      {"train.log_interval", &c.train.log_interval, 10, "steps between metrics.jsonl training lines"},
      {"train.time_limit_s", &c.train.time_limit_s, 0.0,
       "stop (evaluate and save) once this many seconds have passed; 0 = no limit"},
      {"train.schedule", &c.train.schedule, std::string("steps"),
       "cosine decay over: steps (train.steps) | time (train.time_limit_s of wall time, all sessions of a run together)"},
      {"train.seed", &c.train.seed, 1337, "seed for initialization and batch sampling"},
      {"train.on_nonfinite", &c.train.on_nonfinite, std::string("stop"),
       "non-finite loss or gradient norm: stop (exit 3, last good checkpoint kept) | skip (no update, warn, count)"},
      {"train.skip_limit", &c.train.skip_limit, 10,
       "on_nonfinite = skip: stop anyway after this many skipped steps in a row; 0 = never"},
      // data
      {"data.path", &c.data.path, std::string("data/tinyshakespeare/input.txt"), "UTF-8 training text"},
      {"data.val_fraction", &c.data.val_fraction, 0.1, "last fraction of the text held out for validation"},
  };
}

std::string type_name(const Ref& r) {
  switch (r.index()) {
    case 0: return "an integer";
    case 1: return "a number";
    case 2: return "a boolean";
    case 3: return "a string";
    default: return "a string or a list of strings";
  }
}

std::string json_kind(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "a list";
  return "an object";
}

// A value for a one-line message: scalars as JSON (cut to 40 characters), containers by kind only
// (dumping them could recurse as deep as the input nests).
std::string short_json(const nlohmann::json& v) {
  if (v.is_structured()) return v.is_array() ? "a list" : "an object";
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

// Assigns a JSON value to a field, checking its type.
void assign(const Field& f, const nlohmann::json& v) {
  const std::string where = std::string("config key ") + f.path + ": ";
  auto bad = [&] {
    return ConfigError(where + "expected " + type_name(f.ref) + ", got " + json_kind(v) +
                       (v.is_structured() ? "" : " (" + short_json(v) + ")"));
  };
  switch (f.ref.index()) {
    case 0: {
      if (v.is_number_unsigned()) {
        const auto x = v.get<uint64_t>();
        if (x > static_cast<uint64_t>(INT32_MAX)) throw ConfigError(where + "integer out of range: " + short_json(v));
        *std::get<0>(f.ref) = static_cast<int>(x);
      } else if (v.is_number_integer()) {
        const auto x = v.get<long long>();
        if (x < INT32_MIN || x > INT32_MAX) throw ConfigError(where + "integer out of range: " + short_json(v));
        *std::get<0>(f.ref) = static_cast<int>(x);
      } else if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() && std::fabs(v.get<double>()) < 2e9) {
        *std::get<0>(f.ref) = static_cast<int>(v.get<double>());
      } else {
        throw bad();
      }
      break;
    }
    case 1:
      if (!v.is_number()) throw bad();
      *std::get<1>(f.ref) = v.get<double>();
      break;
    case 2:
      if (!v.is_boolean()) throw bad();
      *std::get<2>(f.ref) = v.get<bool>();
      break;
    case 3:
      if (!v.is_string()) throw bad();
      *std::get<3>(f.ref) = v.get<std::string>();
      break;
    case 4: {
      auto* out = std::get<4>(f.ref);
      if (v.is_string()) {
        *out = {v.get<std::string>()};
      } else if (v.is_array() && !v.empty()) {
        out->clear();
        for (const auto& e : v) {
          if (!e.is_string()) throw bad();
          out->push_back(e.get<std::string>());
        }
      } else {
        throw bad();
      }
      break;
    }
  }
}

void set_default(const Field& f) {
  std::visit([&](auto* p) { *p = std::get<std::remove_pointer_t<decltype(p)>>(f.def); }, f.ref);
}

nlohmann::json to_json(const Ref& r) {
  return std::visit([](auto* p) { return nlohmann::json(*p); }, r);
}

// Walks a user JSON object, matching leaves against the table.
void load_object(Config& c, const std::map<std::string, Field>& by_path, const nlohmann::json& j,
                 const std::string& prefix) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string key = it.key();
    if (key == "_comment" || key.rfind("_comment", 0) == 0) continue;
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    auto f = by_path.find(path);
    if (f != by_path.end()) {
      assign(f->second, it.value());
      continue;
    }
    bool is_section = false;
    for (const auto& [p, _] : by_path)
      if (p.rfind(path + ".", 0) == 0) is_section = true;
    if (is_section) {
      if (!it.value().is_object())
        throw ConfigError("config key " + clean(path) + ": expected an object (a section), got " + json_kind(it.value()));
      load_object(c, by_path, it.value(), path);
    } else {
      throw ConfigError("config key " + clean(path) + ": unknown key");
    }
  }
}

}  // namespace

Config default_config() {
  Config c;
  for (const auto& f : fields(c)) set_default(f);
  return c;
}

Config config_from_json(const nlohmann::json& j, MixerCheck check_mixers) {
  if (!j.is_object()) throw ConfigError("config: expected a JSON object at the top level, got " + json_kind(j));
  Config c = default_config();
  std::map<std::string, Field> by_path;
  for (const auto& f : fields(c)) by_path.emplace(f.path, f);
  load_object(c, by_path, j, "");
  if (c.model.mixer.size() == 1 && c.model.n_layers > 1)
    c.model.mixer.assign(static_cast<size_t>(c.model.n_layers), c.model.mixer[0]);
  validate(c, check_mixers);
  return c;
}

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("config file " + path + ": cannot be opened");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::json::parse(ss.str(), nullptr, true, /*ignore_comments=*/false);
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e400
    throw ConfigError("config file " + path + ": not valid JSON (" + e.what() + ")");
  }
}

void apply_override(nlohmann::json& j, const std::string& assignment) {
  const std::string where = "--set " + clean(assignment) + ": ";
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw ConfigError(where + "expected key=value, e.g. --set train.steps=100");
  if (!j.is_object()) throw ConfigError(where + "the config is " + json_kind(j) + ", not a JSON object");
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text);
  } catch (const nlohmann::json::out_of_range&) {
    throw ConfigError(where + "the number does not fit in a double");
  } catch (const nlohmann::json::parse_error&) {
    value = text;  // not JSON: a plain string
    // JSON text (config.json, checkpoints) holds only UTF-8; dump() would throw later
    try {
      (void)value.dump();
    } catch (const nlohmann::json::type_error&) {
      throw ConfigError(where + "the value is not valid UTF-8");
    }
  }
  nlohmann::json* node = &j;
  std::stringstream parts(path);
  std::string part, walked;
  std::vector<std::string> keys;
  while (std::getline(parts, part, '.')) {
    if (part.empty()) throw ConfigError(where + "empty component in key path \"" + clean(path) + "\"");
    keys.push_back(part);
  }
  if (path.back() == '.') throw ConfigError(where + "empty component in key path \"" + clean(path) + "\"");
  for (size_t i = 0; i + 1 < keys.size(); i++) {
    walked += (walked.empty() ? "" : ".") + keys[i];
    if (!node->contains(keys[i])) (*node)[keys[i]] = nlohmann::json::object();
    node = &(*node)[keys[i]];
    if (!node->is_object()) throw ConfigError(where + clean(walked) + " is not a section");
  }
  (*node)[keys.back()] = value;
}

nlohmann::json config_to_json(const Config& c0) {
  Config c = c0;
  nlohmann::json j = nlohmann::json::object();
  for (const auto& f : fields(c)) {
    nlohmann::json* node = &j;
    std::stringstream parts(f.path);
    std::string part;
    std::vector<std::string> keys;
    while (std::getline(parts, part, '.')) keys.push_back(part);
    for (size_t i = 0; i + 1 < keys.size(); i++) node = &(*node)[keys[i]];
    (*node)[keys.back()] = to_json(f.ref);
  }
  return j;
}

void validate(const Config& c, MixerCheck check_mixers) {
  const auto& m = c.model;
  check_positive("model.d_model", m.d_model);
  check_positive("model.n_layers", m.n_layers);
  check_positive("model.n_heads", m.n_heads);
  check_positive("model.context", m.context);
  if (m.context < 2) throw ConfigError("config key model.context: must be at least 2, got " + std::to_string(m.context));
  check_positive("model.mlp_ratio", m.mlp_ratio);
  if (m.keep_activations_mib < 0)
    throw ConfigError("config key model.keep_activations_mib: must be >= 0 (MiB; 0 = always recompute), got " +
                      std::to_string(m.keep_activations_mib));
  // Sizes whose products index tensors must stay far from int overflow (shapes are ints).
  constexpr int64_t kMaxDim = int64_t(1) << 24;
  if (m.d_model > kMaxDim || m.context > kMaxDim || int64_t(m.mlp_ratio) * m.d_model > kMaxDim ||
      int64_t(m.rot.rank) > kMaxDim || m.n_layers > 65536)
    throw ConfigError("config: model too large (d_model, context, mlp_ratio * d_model and rot.rank must be at most " +
                      std::to_string(kMaxDim) + ", n_layers at most 65536)");
  if (m.d_model % m.n_heads != 0)
    throw ConfigError("config key model.d_model: " + std::to_string(m.d_model) + " is not divisible by model.n_heads = " +
                      std::to_string(m.n_heads));
  if (m.mixer.size() != 1 && m.mixer.size() != static_cast<size_t>(m.n_layers))
    throw ConfigError("config key model.mixer: a list needs one name per layer (" + std::to_string(m.n_layers) +
                      "), got " + std::to_string(m.mixer.size()));
  check_mixers(m);  // known names, each mixer's keys
  if (m.activation != "gelu" && m.activation != "relu2")
    throw ConfigError("config key model.activation: expected \"gelu\" or \"relu2\", got " + quote_for_message(m.activation));
  if (m.pos_emb != "learned" && m.pos_emb != "none")
    throw ConfigError("config key model.pos_emb: expected \"learned\" or \"none\", got " + quote_for_message(m.pos_emb));
  if (!(m.dropout >= 0 && m.dropout < 1)) throw ConfigError("config key model.dropout: must be in [0, 1)");
  const auto& t = c.train;
  check_positive("train.batch_size", t.batch_size);
  if (t.replicas < 0) throw ConfigError("config key train.replicas: must be 0 (one per thread) or more, got " +
                                        std::to_string(t.replicas));
  if (t.replicas > 0 && t.batch_size % t.replicas != 0)
    throw ConfigError("config key train.replicas: " + std::to_string(t.replicas) + " does not divide train.batch_size = " +
                      std::to_string(t.batch_size) + " (every replica takes an equal share of each batch)");
  check_positive("train.steps", t.steps);
  check_positive("train.lr", t.lr);
  if (t.min_lr < 0 || t.min_lr > t.lr) throw ConfigError("config key train.min_lr: must be in [0, train.lr]");
  if (t.warmup_steps < 0) throw ConfigError("config key train.warmup_steps: must be >= 0");
  if (t.weight_decay < 0) throw ConfigError("config key train.weight_decay: must be >= 0");
  if (!(t.beta1 >= 0 && t.beta1 < 1)) throw ConfigError("config key train.beta1: must be in [0, 1)");
  if (!(t.beta2 >= 0 && t.beta2 < 1)) throw ConfigError("config key train.beta2: must be in [0, 1)");
  if (t.grad_clip < 0) throw ConfigError("config key train.grad_clip: must be >= 0 (0 = off)");
  if (t.optimizer != "adamw" && t.optimizer != "muon")
    throw ConfigError("config key train.optimizer: expected \"adamw\" or \"muon\", got " + quote_for_message(t.optimizer));
  check_positive("train.muon_lr", t.muon_lr);
  if (!(t.muon_momentum >= 0 && t.muon_momentum < 1)) throw ConfigError("config key train.muon_momentum: must be in [0, 1)");
  if (!(t.muon_weight_decay >= 0)) throw ConfigError("config key train.muon_weight_decay: must be >= 0");
  if (!(t.ema >= 0 && t.ema < 1)) throw ConfigError("config key train.ema: must be in [0, 1) (0 = off)");
  check_positive("train.eval_interval", t.eval_interval);
  check_positive("train.eval_batches", t.eval_batches);
  check_positive("train.log_interval", t.log_interval);
  if (t.time_limit_s < 0) throw ConfigError("config key train.time_limit_s: must be >= 0 (0 = no limit)");
  if (t.schedule != "steps" && t.schedule != "time")
    throw ConfigError("config key train.schedule: expected \"steps\" or \"time\", got " + quote_for_message(t.schedule));
  if (t.schedule == "time" && t.time_limit_s <= 0)
    throw ConfigError("config key train.schedule: \"time\" decays the rate over train.time_limit_s, which is 0 (no limit); "
                      "set train.time_limit_s > 0");
  if (t.on_nonfinite != "stop" && t.on_nonfinite != "skip")
    throw ConfigError("config key train.on_nonfinite: expected \"stop\" or \"skip\", got " + quote_for_message(t.on_nonfinite));
  if (t.skip_limit < 0) throw ConfigError("config key train.skip_limit: must be >= 0 (0 = never stop)");
  if (c.data.path.empty()) throw ConfigError("config key data.path: empty");
  if (!(c.data.val_fraction > 0 && c.data.val_fraction < 1))
    throw ConfigError("config key data.val_fraction: must be in (0, 1)");
}

std::string describe_defaults() {
  Config c;
  std::ostringstream os;
  for (const auto& f : fields(c)) {
    set_default(f);
    os << f.path << " = " << to_json(f.ref).dump() << "\n    " << f.doc << "\n";
  }
  return os.str();
}

}  // namespace spectral
