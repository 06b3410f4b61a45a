// Config loading: defaults, overrides, and errors that name the key path.
#include <gtest/gtest.h>

#include <filesystem>

#include "config/config.h"
#include "model/mixer_registry.h"

using namespace spectral;
using nlohmann::json;

static std::string error_of(const json& j) {
  try {
    load_config_json(j);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsAreValidAndRoundTrip) {
  Config c = default_config();
  EXPECT_NO_THROW(validate_config(c));
  json j = config_to_json(load_config_json(json::object()));
  Config back = load_config_json(j);
  EXPECT_EQ(config_to_json(back), j);
  EXPECT_EQ(j["model"]["mixer"].size(), (size_t)j["model"]["n_layers"].get<int>());
}

TEST(Config, MixerStringOrList) {
  Config a = load_config_json(json{{"model", {{"n_layers", 3}, {"mixer", "fft"}}}});
  EXPECT_EQ(a.model.mixer, (std::vector<std::string>{"fft", "fft", "fft"}));
  Config b = load_config_json(json{{"model", {{"n_layers", 2}, {"mixer", {"fft", "attention"}}}}});
  EXPECT_EQ(b.model.mixer, (std::vector<std::string>{"fft", "attention"}));
}

TEST(Config, UnknownKeyNamesThePath) {
  EXPECT_NE(error_of(json{{"model", {{"d_modle", 3}}}}).find("model.d_modle: unknown key"), std::string::npos);
  EXPECT_NE(error_of(json{{"trian", {{"steps", 3}}}}).find("trian: unknown key"), std::string::npos);
}

TEST(Config, WrongTypeNamesThePathAndTypes) {
  auto e = error_of(json{{"train", {{"steps", "many"}}}});
  EXPECT_NE(e.find("train.steps"), std::string::npos) << e;
  EXPECT_NE(e.find("expected an integer"), std::string::npos) << e;
  e = error_of(json{{"model", {{"tie_embeddings", 1}}}});
  EXPECT_NE(e.find("model.tie_embeddings: expected a boolean"), std::string::npos) << e;
  e = error_of(json{{"model", 5}});
  EXPECT_NE(e.find("model: expected an object"), std::string::npos) << e;
  e = error_of(json{{"train", {{"steps", 2.5}}}});
  EXPECT_NE(e.find("train.steps"), std::string::npos) << e;
}

TEST(Config, SemanticErrors) {
  EXPECT_NE(error_of(json{{"model", {{"d_model", 0}}}}).find("model.d_model: must be positive"), std::string::npos);
  EXPECT_NE(error_of(json{{"train", {{"batch_size", -2}}}}).find("train.batch_size: must be positive"), std::string::npos);
  EXPECT_NE(error_of(json{{"model", {{"d_model", 130}, {"n_heads", 4}}}}).find("not divisible by model.n_heads"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"model", {{"mixer", "conv"}}}}).find("model.mixer[0]: unknown mixer \"conv\""), std::string::npos);
  EXPECT_NE(error_of(json{{"model", {{"n_layers", 2}, {"mixer", {"fft", "fft", "fft"}}}}}).find("one name per layer"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"data", {{"val_fraction", 1.5}}}}).find("data.val_fraction"), std::string::npos);
}

TEST(Config, CommentsAreIgnored) {
  EXPECT_EQ(error_of(json{{"_comment", "hi"}, {"model", {{"_comment", "x"}}}}), "");
}

TEST(Config, SetOverrides) {
  json j = json::object();
  apply_override(j, "train.steps=100");
  apply_override(j, "data.path=/x.txt");
  apply_override(j, "model.mixer=[\"fft\",\"attention\"]");
  apply_override(j, "model.n_layers=2");
  apply_override(j, "model.fft.gate=false");
  Config c = load_config_json(j);
  EXPECT_EQ(c.train.steps, 100);
  EXPECT_EQ(c.data.path, "/x.txt");
  EXPECT_EQ(c.model.mixer[1], "attention");
  EXPECT_FALSE(c.model.fft.gate);
  EXPECT_THROW(apply_override(j, "train.steps"), ConfigError);
  EXPECT_THROW(apply_override(j, "=3"), ConfigError);
  EXPECT_THROW(apply_override(j, "train..steps=3"), ConfigError);
  apply_override(j, "train.stepz=3");
  EXPECT_THROW(load_config_json(j), ConfigError);
}

TEST(Config, DescribeDefaultsListsEveryKey) {
  const std::string d = describe_defaults();
  for (const char* key : {"model.d_model", "model.mixer", "train.lr", "train.seed", "data.val_fraction", "model.rot.variant"})
    EXPECT_NE(d.find(key), std::string::npos) << key;
}

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

// The config table in docs/config.md is the documentation users read: every key with its current
// default, and nothing else. Both directions: a key of the code missing from the table fails, and so
// does a row of the table that is not a key of the code with that default (a stale or renamed row).
TEST(Config, DocTableMatchesTheCode) {
  const std::string path = std::string(SPECTRAL_SOURCE_DIR) + "/docs/config.md";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path << " not found";
  // The table's rows: "| `key` | `default` | meaning |", from its header line to the first non-table line.
  std::vector<std::string> doc_rows;
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.rfind("| key | default | meaning |", 0) == 0) {
      EXPECT_FALSE(in_table) << "docs/config.md has two config tables";
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.rfind("|", 0) != 0) break;
    if (line.rfind("|---", 0) == 0) continue;
    doc_rows.push_back(line);
  }
  ASSERT_TRUE(in_table) << "docs/config.md has no line starting \"| key | default | meaning |\"";
  // "| `key` | `default` |" for every key of the code, from the table --help-config prints.
  std::vector<std::string> code_rows;
  std::istringstream lines(describe_defaults());
  while (std::getline(lines, line)) {
    const auto eq = line.find(" = ");
    if (line.empty() || line[0] == ' ' || eq == std::string::npos) continue;
    code_rows.push_back("| `" + line.substr(0, eq) + "` | `" + line.substr(eq + 3) + "` |");
  }
  EXPECT_GT(code_rows.size(), 25u);
  auto starts_with = [](const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; };
  for (const auto& want : code_rows) {
    int found = 0;
    for (const auto& row : doc_rows) found += starts_with(row, want);
    EXPECT_EQ(found, 1) << "docs/config.md should have exactly one row starting " << want;
  }
  for (const auto& row : doc_rows) {
    bool known = false;
    for (const auto& want : code_rows) known = known || starts_with(row, want);
    EXPECT_TRUE(known) << "docs/config.md has a row that is not a key of the code with that default: " << row;
  }
  EXPECT_EQ(doc_rows.size(), code_rows.size());
}

// Found by fuzz_config: nlohmann reports 1e400 as out_of_range, not parse_error, and it escaped
// read_json_file and --set as an uncaught exception (exit 1 instead of a ConfigError, exit 2).
TEST(Config, NumbersBeyondADoubleAreConfigErrors) {
  const std::string path = ::testing::TempDir() + "/spectral_huge_number.json";
  {
    std::ofstream(path) << R"({"train": {"lr": 1e400}})";
  }
  EXPECT_THROW(read_json_file(path), ConfigError);
  json j = json::object();
  try {
    apply_override(j, "train.lr=1e400");
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("does not fit in a double"), std::string::npos) << e.what();
  }
  // integers beyond int64 arrive as unsigned: out of range, not wrapped to -1
  EXPECT_NE(error_of(json::parse(R"({"train": {"steps": 18446744073709551615}})")).find("train.steps: integer out of range"),
            std::string::npos);
}

TEST(Config, MessagesStayOnOneLineWhateverTheInput) {
  for (const json& j : {json{{"model\nx", 1}}, json{{"model", {{"mixer", "a\nb"}}}}, json{{"model", {{"pos_emb", "x\ry"}}}},
                        json{{"train", {{"steps", json::array({json::array({json::array()})})}}}}}) {
    const std::string e = error_of(j);
    EXPECT_FALSE(e.empty()) << j.dump();
    EXPECT_EQ(e.find_first_of("\r\n"), std::string::npos) << e;
  }
  json j = json::object();
  EXPECT_THROW(apply_override(j, "data.path=\xff\xfe"), ConfigError);  // config.json could not hold it
  json list = json::array();
  EXPECT_THROW(apply_override(list, "train.steps=3"), ConfigError);  // not a crash of nlohmann
}

// rot's rank rules apply only to configs with a rot layer; a rot layer whose rank resolves to 0 is a
// config error, not an exception from the model's constructor (exit 1).
TEST(Config, RotRulesOnlyWithRotLayers) {
  EXPECT_EQ(error_of(json{{"model", {{"d_model", 8}, {"n_heads", 8}, {"mixer", "fft"}}}}), "");
  EXPECT_NE(error_of(json{{"model", {{"d_model", 8}, {"n_heads", 8}, {"mixer", "rot"}}}}).find("model.rot.rank"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"model", {{"d_model", 3}, {"n_heads", 1}, {"mixer", "rot"}}}}).find("0 means d_model/4"),
            std::string::npos);
  EXPECT_NE(error_of(json{{"model", {{"d_model", 1 << 25}}}}).find("model too large"), std::string::npos);
}

// Every config shipped in configs/ reads and validates (a typo in one would otherwise surface only
// when someone runs it).
TEST(Config, EveryShippedConfigIsValid) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(SPECTRAL_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".json") continue;
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(load_config_json(read_json_file(entry.path().string())));
    n++;
  }
  EXPECT_GE(n, 9);
}
