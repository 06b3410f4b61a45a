// Checkpoints: a model saved and loaded gives the same logits (for every mixer), optimizer state
// and metadata survive, and files that disagree with their config or are not ours are rejected
// with a message naming the file and the problem.
#include <gtest/gtest.h>

#include "file_checks.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model_checks.h"
#include "util/errors.h"

using namespace spectral;
using namespace spectral::testing;

namespace {

Config small_config(const std::vector<std::string>& mixers) {
  Config c = default_config();
  c.model = tiny_model_config(mixers, 16, 2, 32);
  c.model.local.window = 8;
  return c;
}

Vocab abc_vocab() { return Vocab::from_text(U"abcdefgh\n !"); }

}  // namespace

TEST(Checkpoint, RoundTripGivesIdenticalLogitsForEveryMixer) {
  ScratchDir dir;
  for (auto mixers : std::vector<std::vector<std::string>>{{"fft"}, {"attention"}, {"local"}, {"rot"}, {"fft", "rot", "local"}}) {
    Config cfg = small_config(mixers);
    const Vocab vocab = abc_vocab();
    Model<float> model(cfg.model, vocab.size());
    model.init(11);
    std::vector<float> m(model.params.size(), 0.25f), v(model.params.size(), 0.5f);
    TrainingState st{&m, &v, nlohmann::json{{"step", 42}, {"best_val_loss", 1.5}}};
    const std::string path = dir.file("ck.safetensors");
    save_checkpoint(path, model, cfg, vocab, 42, &st);
    LoadedCheckpoint ck = load_checkpoint(path);
    EXPECT_EQ(ck.step, 42);
    EXPECT_EQ(ck.vocab.code_points(), vocab.code_points());
    EXPECT_EQ(config_to_json(ck.config), config_to_json(cfg));
    ASSERT_TRUE(ck.has_optimizer);
    EXPECT_EQ(ck.m[model.layout().specs()[0].offset], 0.25f);
    EXPECT_EQ(ck.train_state["best_val_loss"], 1.5);
    std::mt19937 rng(1);
    auto tok = random_tokens(2 * 32, vocab.size(), rng);
    model.forward(tok.data(), nullptr, 2, 32);
    std::vector<float> a(model.logits(), model.logits() + 2 * 32 * vocab.size());
    ck.model->forward(tok.data(), nullptr, 2, 32);
    for (size_t i = 0; i < a.size(); i++) ASSERT_EQ(a[i], ck.model->logits()[i]) << mixers[0] << " logit " << i;
  }
}

// Generation and evaluation read the weights alone: the optimizer state is checked but not read
// (m, v empty; has_optimizer still true), the model is the same; an incomplete optimizer state is
// still an error.
TEST(Checkpoint, WeightsOnlyReadSkipsTheOptimizerState) {
  ScratchDir dir;
  Config cfg = small_config({"fft", "rot"});
  const Vocab vocab = abc_vocab();
  Model<float> model(cfg.model, vocab.size());
  model.init(3);
  std::vector<float> m(model.params.size(), 0.25f), v(model.params.size(), 0.5f);
  TrainingState st{&m, &v, nlohmann::json{{"step", 5}}};
  const std::string path = dir.file("ck.safetensors");
  save_checkpoint(path, model, cfg, vocab, 5, &st);
  LoadedCheckpoint all = load_checkpoint(path), weights = load_checkpoint(path, CheckpointContent::WeightsOnly);
  EXPECT_EQ(all.m.size(), model.params.size());
  EXPECT_TRUE(weights.has_optimizer);
  EXPECT_TRUE(weights.m.empty());
  EXPECT_TRUE(weights.v.empty());
  EXPECT_TRUE(weights.raw.empty());
  EXPECT_EQ(weights.model->params, model.params);
  EXPECT_EQ(weights.step, 5);
  // an optimizer state with a moment tensor missing is refused in both modes
  SafetensorsFile f = read_safetensors(path);
  f.tensors.erase("optim.v.wte");
  std::vector<TensorRef> refs;
  for (const auto& [name, t] : f.tensors) refs.push_back({name, t.shape, t.data.data()});
  write_safetensors(dir.file("partial.safetensors"), refs, f.metadata);
  for (CheckpointContent what : {CheckpointContent::Everything, CheckpointContent::WeightsOnly})
    EXPECT_TRUE(contains(message_of<InputError>([&] { load_checkpoint(dir.file("partial.safetensors"), what); }),
                         "optimizer state is incomplete"));
}

TEST(Checkpoint, WeightsOnlyFileLoadsWithoutOptimizerState) {
  ScratchDir dir;
  Config cfg = small_config({"fft"});
  Model<float> model(cfg.model, abc_vocab().size());
  model.init(1);
  save_checkpoint(dir.file("w.safetensors"), model, cfg, abc_vocab(), 7, nullptr);
  LoadedCheckpoint ck = load_checkpoint(dir.file("w.safetensors"));
  EXPECT_FALSE(ck.has_optimizer);
  EXPECT_EQ(ck.step, 7);
}

TEST(Checkpoint, RejectsFilesThatAreNotOurs) {
  ScratchDir dir;
  // a valid safetensors file from "another tool": no spectral metadata
  std::vector<float> w(6, 1.f);
  write_safetensors(dir.file("other.safetensors"), {{"weight", {2, 3}, w.data()}}, {{"format", "pt"}});
  std::string msg = message_of<InputError>([&] { load_checkpoint(dir.file("other.safetensors")); });
  EXPECT_TRUE(contains(msg, "not a spectral checkpoint"));
  EXPECT_TRUE(contains(msg, "other.safetensors"));
  // wrong version
  write_safetensors(dir.file("v9.safetensors"), {{"weight", {2, 3}, w.data()}}, {{"format", "spectral"}, {"format_version", "9"}});
  EXPECT_TRUE(contains(message_of<InputError>([&] { load_checkpoint(dir.file("v9.safetensors")); }), "format_version 9"));
  // missing file
  EXPECT_TRUE(contains(message_of<Error>([&] { load_checkpoint(dir.file("missing.safetensors")); }), "missing.safetensors"));
}

TEST(Checkpoint, RejectsTensorsThatDisagreeWithTheConfig) {
  ScratchDir dir;
  Config cfg = small_config({"fft"});
  const Vocab vocab = abc_vocab();
  Model<float> model(cfg.model, vocab.size());
  model.init(1);
  const std::string path = dir.file("ck.safetensors");
  save_checkpoint(path, model, cfg, vocab, 1, nullptr);
  SafetensorsFile f = read_safetensors(path);
  auto rewrite = [&](const std::string& out, auto&& edit) {
    SafetensorsFile g = f;
    edit(g);
    std::vector<TensorRef> refs;
    for (auto& [name, t] : g.tensors) refs.push_back({name, t.shape, t.data.data()});
    write_safetensors(out, refs, g.metadata);
  };
  // a config that says d_model = 8 against tensors of width 16
  rewrite(dir.file("shape.safetensors"), [](SafetensorsFile& g) {
    auto j = nlohmann::json::parse(g.metadata["config"]);
    j["model"]["d_model"] = 8;
    g.metadata["config"] = j.dump();
  });
  std::string msg = message_of<InputError>([&] { load_checkpoint(dir.file("shape.safetensors")); });
  EXPECT_TRUE(contains(msg, "has shape [11,16], the config needs [11,8]")) << msg;
  // a missing tensor
  rewrite(dir.file("missing.safetensors"), [](SafetensorsFile& g) { g.tensors.erase("lnf.weight"); });
  EXPECT_TRUE(contains(message_of<InputError>([&] { load_checkpoint(dir.file("missing.safetensors")); }), "lnf.weight is missing"));
  // an extra tensor
  rewrite(dir.file("extra.safetensors"), [](SafetensorsFile& g) { g.tensors["bogus"] = Tensor{{1}, {0.f}}; });
  EXPECT_TRUE(contains(message_of<InputError>([&] { load_checkpoint(dir.file("extra.safetensors")); }), "unexpected tensor bogus"));
  // a config that is not valid
  rewrite(dir.file("cfg.safetensors"), [](SafetensorsFile& g) { g.metadata["config"] = "{\"model\": {\"mixer\": \"nope\"}}"; });
  EXPECT_TRUE(contains(message_of<InputError>([&] { load_checkpoint(dir.file("cfg.safetensors")); }), "unknown mixer"));
  // a vocabulary that does not match the embedding
  rewrite(dir.file("vocab.safetensors"), [](SafetensorsFile& g) { g.metadata["vocab"] = "[97,98]"; });
  EXPECT_TRUE(contains(message_of<InputError>([&] { load_checkpoint(dir.file("vocab.safetensors")); }), "wte"));
}

// A config in the metadata may ask for any size; the file's tensors are checked against the layout
// it implies before a model of that size is allocated, so a hostile file costs no more memory than
// its own bytes (before, a 16M-wide config was allocated in full and only then found wrong).
TEST(Checkpoint, HugeConfigIsRejectedBeforeAnythingIsAllocated) {
  ScratchDir dir;
  Config cfg = small_config({"fft"});
  const Vocab vocab = abc_vocab();
  Model<float> model(cfg.model, vocab.size());
  model.init(1);
  const std::string path = dir.file("ck.safetensors");
  save_checkpoint(path, model, cfg, vocab, 1, nullptr);
  const SafetensorsFile f = read_safetensors(path);
  auto with_model = [&](const std::string& name, auto&& edit) {
    SafetensorsFile g = f;
    auto j = nlohmann::json::parse(g.metadata["config"]);
    edit(j["model"]);
    g.metadata["config"] = j.dump();
    std::vector<TensorRef> refs;
    for (auto& [n, t] : g.tensors) refs.push_back({n, t.shape, t.data.data()});
    write_safetensors(dir.file(name), refs, g.metadata);
    return dir.file(name);
  };
  // 2^24 wide: wte alone would be 11 x 16M floats
  std::string p = with_model("wide.safetensors", [](nlohmann::json& m) {
    m["d_model"] = 1 << 24;
    m["n_heads"] = 1;
    m["mlp_ratio"] = 1;
  });
  EXPECT_TRUE(contains(message_of<InputError>([&] { load_checkpoint(p); }), "tensor wte has shape [11,16], the config needs [11,16777216]"));
  // a context of 2^24 without learned positions: the fft kernels would be 16 x 16M
  p = with_model("long.safetensors", [](nlohmann::json& m) {
    m["context"] = 1 << 24;
    m["pos_emb"] = "none";
  });
  EXPECT_TRUE(contains(message_of<InputError>([&] { load_checkpoint(p); }), "tensor layers.0.mixer.kernel has shape [16,32], the config needs [16,16777216]"));
  // 60000 layers: refused by counting the file's tensors, before the layout is built
  p = with_model("deep.safetensors", [](nlohmann::json& m) {
    m["n_layers"] = 60000;
    m["mixer"] = "fft";
  });
  EXPECT_TRUE(contains(message_of<InputError>([&] { load_checkpoint(p); }), "the config has 60000 layers but the file holds only"));
}
