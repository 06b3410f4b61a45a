// The mixer registry drives config validation, the factory, the benchmarks' hooks and
// --help-config: every entry builds (float and double) with the parameter count the model declares
// for it, unknown names are rejected with the registry's list, each entry's rules give the
// messages users see, and every key an entry lists is a key of the config table. Only
// TodaysMixers and the messages pin today's entries; the rest runs over whatever the list holds.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "cli_runner.h"
#include "config/config.h"
#include "model/mixer_registry.h"
#include "model/mixer_rot.h"
#include "model/model.h"

using namespace spectral;
using nlohmann::json;

namespace {

std::string error_of(const json& j) {
  try {
    load_config_json(j);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// A small valid config with every layer the mixer of label.
ModelConfig config_for(const std::string& label) {
  ModelConfig m = default_config().model;
  m.d_model = 16;
  m.n_heads = 2;
  m.context = 12;
  m.n_layers = 2;
  m.local.window = 5;
  set_mixer_label(m, label);
  return m;
}

}  // namespace

TEST(MixerRegistry, ListsTheMixersOnce) {
  std::set<std::string> names;
  for (const auto& s : mixers()) {
    EXPECT_TRUE(names.insert(s.name).second) << "twice: " << s.name;
    EXPECT_FALSE(s.summary.empty()) << s.name;
    EXPECT_EQ(find_mixer(s.name), &s);
    EXPECT_EQ(s.variants.empty(), s.variant_key.empty()) << s.name;
    EXPECT_EQ(s.variants.empty(), s.variant_of == nullptr) << s.name;
  }
  EXPECT_EQ(find_mixer("conv"), nullptr);
  std::set<std::string> labels;
  for (const auto& label : all_mixer_labels()) EXPECT_TRUE(labels.insert(label).second) << "twice: " << label;
}

// Today's list, pinned: the order users see in messages, help and bench rows. A new mixer adds itself here.
TEST(MixerRegistry, TodaysMixers) {
  EXPECT_EQ(mixer_names(", "), "fft, rot, attention, local");
  EXPECT_EQ(all_mixer_labels(), (std::vector<std::string>{"fft", "rot-lowrank", "rot-headphase", "rot-dynamic",
                                                          "attention", "local"}));
}

// Every entry and variant: the config validates, the factory builds the layer in both precisions,
// and the registry's parameter count is what the model declares under layers.<i>.mixer.
TEST(MixerRegistry, EveryMixerBuildsWithItsParameterCount) {
  for (const auto& label : all_mixer_labels()) {
    SCOPED_TRACE(label);
    const ModelConfig m = config_for(label);
    Config c = default_config();
    c.model = m;
    EXPECT_NO_THROW(validate_config(c));
    std::string variant;
    const MixerSpec* s = find_mixer_label(label, &variant);
    ASSERT_NE(s, nullptr);
    if (!variant.empty()) {
      EXPECT_EQ(s->variant_of(m), variant);
    }
    EXPECT_EQ(mixer_label(s->name, m), label);

    ParamLayout lf, ld;
    auto f = make_mixer<float>(s->name, m);
    auto d = make_mixer<double>(s->name, m);
    ASSERT_TRUE(f && d);
    f->declare(lf, "");
    d->declare(ld, "");
    EXPECT_EQ(lf.total(), ld.total());
    const int64_t count = mixer_param_count(s->name, m);
    EXPECT_EQ(count, (int64_t)lf.total());
    EXPECT_GT(count, 0);

    const ParamLayout model = Model<float>::layout_for(m, 11);
    for (int layer = 0; layer < m.n_layers; layer++) {
      const std::string prefix = "layers." + std::to_string(layer) + ".mixer.";
      int64_t declared = 0;
      for (const auto& spec : model.specs())
        if (spec.name.rfind(prefix, 0) == 0) declared += (int64_t)spec.size;
      EXPECT_EQ(declared, count) << prefix;
    }
  }
}

TEST(MixerRegistry, UnknownNamesAreRejectedWithTheRegistrysList) {
  EXPECT_EQ(error_of(json{{"model", {{"n_layers", 2}, {"mixer", {"fft", "x"}}}}}),
            "config key model.mixer[1]: unknown mixer \"x\" (known: " + mixer_names(", ") + ")");
  EXPECT_EQ(error_of(json{{"model", {{"n_layers", 2}, {"mixer", {"fft", "x"}}}}}),
            "config key model.mixer[1]: unknown mixer \"x\" (known: fft, rot, attention, local)");  // today's
  const std::string e = error_of(json{{"model", {{"mixer", "transformer"}}}});
  for (const auto& s : mixers()) EXPECT_NE(e.find(s.name), std::string::npos) << e;
  EXPECT_THROW(make_mixer<float>("transformer", default_config().model), std::invalid_argument);
  ModelConfig m = default_config().model;
  EXPECT_THROW(set_mixer_label(m, "rot-x"), std::invalid_argument);
}

// Each entry's check runs on every config load, with the messages the key table's users know.
TEST(MixerRegistry, EachEntrysRulesValidateTheConfig) {
  EXPECT_EQ(error_of(json{{"model", {{"fft", {{"decay_min", 0}}}}}}),
            "config key model.fft.decay_min: must be positive, got 0.000000");
  EXPECT_EQ(error_of(json{{"model", {{"fft", {{"kernel_std", -1}}}}}}), "config key model.fft.kernel_std: must be >= 0");
  EXPECT_EQ(error_of(json{{"model", {{"rot", {{"variant", "spiral"}}}}}}),
            "config key model.rot.variant: expected lowrank, headphase or dynamic, got \"spiral\"");
  EXPECT_EQ(error_of(json{{"model", {{"rot", {{"rank", -1}}}}}}), "config key model.rot.rank: must be >= 0 (0 = d_model/4)");
  EXPECT_EQ(error_of(json{{"model", {{"mixer", "rot"}, {"d_model", 24}, {"n_heads", 4}}}}),
            "config key model.rot.rank: 6 is not divisible by model.n_heads = 4");
  EXPECT_EQ(error_of(json{{"model", {{"local", {{"window", 0}}}}}}),
            "config key model.local.window: must be positive, got 0.000000");
  // a mixer's keys are checked whether or not a layer uses it; its layer rules only when one does
  EXPECT_EQ(error_of(json{{"model", {{"mixer", "fft"}, {"d_model", 24}, {"n_heads", 4}}}}), "");
}

// rot's lowrank rank: model.rot.rank, else d_model/4 — one function, which the layer uses.
TEST(MixerRegistry, RotRankIsDerivedOnce) {
  ModelConfig m = config_for("rot-lowrank");
  m.d_model = 32;
  EXPECT_EQ(rot_rank(m), 8);
  ParamLayout L;
  make_mixer<float>("rot", m)->declare(L, "");
  ASSERT_NE(L.find("w_theta"), nullptr);
  EXPECT_EQ(L.find("w_theta")->shape, (std::vector<int>{8, 32}));
  m.rot.rank = 6;
  EXPECT_EQ(rot_rank(m), 6);
}

TEST(MixerRegistry, EveryListedKeyIsAConfigKey) {
  const std::string defaults = describe_defaults();
  for (const auto& s : mixers())
    for (const auto& key : s.keys) EXPECT_NE(defaults.find(key + " = "), std::string::npos) << s.name << ": " << key;
  EXPECT_NO_THROW(describe_mixers());
}

// `spectral train --help-config` lists the mixers with their variants and keys after the keys.
TEST(MixerRegistry, HelpConfigListsTheMixersAndVariants) {
  const std::string dir = spectral::testing::temp_dir("registry-help");
  const spectral::testing::RunResult r = spectral::testing::run_spectral("train --help-config", dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(describe_defaults()), std::string::npos);
  const size_t list = r.out.find("mixers (");
  ASSERT_NE(list, std::string::npos) << r.out;
  for (const auto& s : mixers()) {
    EXPECT_NE(r.out.find("    " + s.name + " ", list), std::string::npos) << s.name;
    for (const auto& v : s.variants) EXPECT_NE(r.out.find(v, list), std::string::npos) << v;
    for (const auto& key : s.keys) EXPECT_NE(r.out.find(key + " = ", list), std::string::npos) << key;
  }
  EXPECT_NE(r.out.find("variants (model.rot.variant): lowrank | headphase | dynamic"), std::string::npos) << r.out;
}

// What the benchmarks read: FLOPs, the core op's saved values, and a core case that runs.
TEST(MixerRegistry, BenchHooksRun) {
  std::mt19937_64 rng(5);
  for (const auto& label : all_mixer_labels()) {
    SCOPED_TRACE(label);
    const ModelConfig m = config_for(label);
    const MixerSpec& s = *find_mixer_label(label, nullptr);
    ASSERT_TRUE(s.bench.flops && s.bench.core_saved_values && s.bench.core);
    const MixerFlops f = s.bench.flops(m, 2, m.context);
    EXPECT_GT(f.dense, 0);
    EXPECT_GT(f.core, 0);
    EXPECT_GT(s.bench.core_saved_values(m, 2), 0u);
    auto c = s.bench.core(m, 2, rng);
    c->forward();
    c->backward();
    if (s.bench.floor) s.bench.floor(m, 2, rng)->forward();
  }
}
