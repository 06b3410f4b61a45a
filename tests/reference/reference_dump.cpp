// reference_dump: what the engine computes, written to files for tests/reference/reference_model.py
// (an independent PyTorch implementation of docs/model.md) to compare with. A test program, not a
// part of spectral: it calls the model, checkpoint and optimizer layers directly.
//
//   reference_dump init --config CFG.json --text TEXT --seed S --jitter J --out CK.safetensors
//     A model of CFG with the vocabulary of TEXT, initialized from seed S; every gain, bias and
//     other tensor initialized to a constant gets J·N(0,1) added (so nothing sits at 0 or 1),
//     saved as a checkpoint.
//   reference_dump run --checkpoint CK --text EVAL --train-text TRAIN --steps N --out OUT.safetensors
//     EVAL holds T+1 characters: one forward over the first T with the last T as targets gives
//     "logits" (T, V) and "loss" (1); backward gives "grad.<name>" for every parameter. Then N
//     training steps as the trainer takes them (forward, backward, global-norm clip at
//     train.grad_clip, AdamW at the schedule's rate) on batches of train.batch_size rows of
//     T = context characters: row r of the whole run (step s, row b: r = s·B + b) is the window
//     starting at character r·T of TRAIN. Their losses (before each update) go to "train_loss" (N),
//     the parameters after the last update to "final.<name>".
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "data/utf8.h"
#include "data/vocab.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/mixer_registry.h"
#include "train/adamw.h"
#include "util/files.h"
#include "util/threads.h"

using namespace spectral;

namespace {

std::map<std::string, std::string> parse_flags(int argc, char** argv) {
  std::map<std::string, std::string> f;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) throw InputError("expected a --flag, got " + k);
    f[k.substr(2)] = argv[i + 1];
  }
  return f;
}

std::string need(const std::map<std::string, std::string>& f, const std::string& k) {
  auto it = f.find(k);
  if (it == f.end()) throw InputError("missing --" + k);
  return it->second;
}

std::vector<int32_t> encode_file(const Vocab& vocab, const std::string& path) {
  return vocab.encode(utf8_decode(read_file_bytes(path), path), OutOfVocab::Error, path).ids;
}

int init(const std::map<std::string, std::string>& f) {
  const Config cfg = load_config_json(read_json_file(need(f, "config")));
  const Vocab vocab = Vocab::from_text(utf8_decode(read_file_bytes(need(f, "text"))));
  Model<float> model(cfg.model, vocab.size());
  model.init(std::stoull(need(f, "seed")));
  const double jitter = std::stod(need(f, "jitter"));
  std::mt19937_64 rng(std::stoull(need(f, "seed")) + 1);
  std::normal_distribution<double> normal;
  for (const auto& s : model.layout().specs())
    if (s.init != Init::Normal)
      for (size_t i = 0; i < s.size; i++) model.params[s.offset + i] += float(jitter * normal(rng));
  save_checkpoint(need(f, "out"), model, cfg, vocab, 0, nullptr);
  return 0;
}

int run(const std::map<std::string, std::string>& f) {
  LoadedCheckpoint ck = load_checkpoint(need(f, "checkpoint"));
  Model<float>& model = *ck.model;
  const int T = ck.config.model.context, V = model.vocab_size();
  std::map<std::string, std::vector<float>> out;

  // ---- logits, loss and gradients on one text of T+1 characters ----
  const std::vector<int32_t> ids = encode_file(ck.vocab, need(f, "text"));
  if ((int)ids.size() != T + 1) throw InputError("--text must hold context+1 characters");
  const double loss = model.forward(ids.data(), ids.data() + 1, 1, T);
  out["logits"].assign(model.logits(), model.logits() + (size_t)T * V);
  out["loss"] = {float(loss)};
  model.zero_grad();
  model.backward();
  for (const auto& s : model.layout().specs())
    out["grad." + s.name].assign(model.grads.begin() + s.offset, model.grads.begin() + s.offset + s.size);

  // ---- training steps, as the trainer takes them, on fixed batches ----
  const TrainConfig& tc = ck.config.train;
  const int B = tc.batch_size, steps = std::stoi(need(f, "steps"));
  const std::vector<int32_t> train = encode_file(ck.vocab, need(f, "train-text"));
  if (train.size() < (size_t)steps * B * T + 1) throw InputError("--train-text is too short");
  AdamW adamw(model.layout(), tc);
  std::vector<int32_t> x((size_t)B * T), y((size_t)B * T);
  for (int step = 0; step < steps; step++) {
    for (int b = 0; b < B; b++)
      for (int t = 0; t < T; t++) {
        const size_t at = (size_t)(step * B + b) * T + t;
        x[(size_t)b * T + t] = train[at];
        y[(size_t)b * T + t] = train[at + 1];
      }
    const double l = model.forward(x.data(), y.data(), B, T);
    model.zero_grad();
    model.backward();
    const double norm = global_grad_norm(model.grads);
    const double clip = (tc.grad_clip > 0 && norm > tc.grad_clip) ? tc.grad_clip / norm : 1.0;
    adamw.update(model.params, model.grads, learning_rate(tc, step), step + 1, clip);
    out["train_loss"].push_back(float(l));
  }
  for (const auto& s : model.layout().specs())
    out["final." + s.name].assign(model.params.begin() + s.offset, model.params.begin() + s.offset + s.size);

  std::vector<TensorRef> refs;
  for (const auto& [name, v] : out) refs.push_back({name, {(int)v.size()}, v.data()});
  write_safetensors(need(f, "out"), refs, {});
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    set_threads(1);
    const std::string cmd = argc > 1 ? argv[1] : "";
    const auto flags = parse_flags(argc, argv);
    if (cmd == "init") return init(flags);
    if (cmd == "run") return run(flags);
    std::fprintf(stderr, "usage: reference_dump init|run --flag value ... (see the file's head)\n");
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "reference_dump: %s\n", e.what());
    return 1;
  }
}
