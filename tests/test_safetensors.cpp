// The safetensors container: round trips, the exact on-disk layout (8-byte length, JSON header
// padded so data is 8-byte aligned), atomic overwrite that survives a failed write, the writer's
// argument checks, and a reader that rejects every malformed or hostile file with a message
// naming the problem — never a crash, whatever the bytes.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

#include "file_checks.h"
#include "io/safetensors.h"
#include "util/errors.h"

using namespace spectral;
using namespace spectral::testing;
namespace fs = std::filesystem;

namespace {

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; i++) s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s;
}

// A file with a given header text and data section (no padding unless the header has it).
std::string raw_file(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

std::string float_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// A small valid file's tensors and metadata.
struct Sample {
  std::vector<float> embed, bias;
  std::vector<TensorRef> tensors;
  std::map<std::string, std::string> metadata;
  Sample() {
    std::mt19937 rng(7);
    std::normal_distribution<float> dist;
    for (int i = 0; i < 12; i++) embed.push_back(dist(rng));
    embed[1] = std::numeric_limits<float>::quiet_NaN();
    embed[2] = -0.0f;
    embed[3] = std::numeric_limits<float>::infinity();
    bias = {0.5f, -1.25f, 3.0f};
    tensors = {{"embed", {3, 4}, embed.data()}, {"layers.0.bias", {3}, bias.data()}};
    metadata = {{"format_version", "1"}, {"vocab", "[10,32,233,128512]"}, {"note", "h\xC3\xA9llo \xF0\x9F\x98\x80"}};
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// writing and reading back

TEST(Safetensors, RoundTripPreservesTensorsBitsAndMetadata) {
  ScratchDir dir;
  const std::string path = dir.file("model.safetensors");
  Sample s;
  const float scalar = 3.5f;
  s.tensors.push_back({"scalar", {}, &scalar});
  s.tensors.push_back({"empty", {0, 5}, nullptr});
  s.tensors.push_back({"layers.1.\xC9\xB8", {1, 1, 1}, &scalar});  // non-ASCII name
  write_safetensors(path, s.tensors, s.metadata);

  const SafetensorsFile f = read_safetensors(path);
  EXPECT_EQ(f.metadata, s.metadata);
  ASSERT_EQ(f.tensors.size(), 5u);
  EXPECT_EQ(f.tensors.at("embed").shape, (std::vector<int>{3, 4}));
  EXPECT_TRUE(same_bits(f.tensors.at("embed").data, s.embed));  // NaN, −0 and ∞ included
  EXPECT_TRUE(same_bits(f.tensors.at("layers.0.bias").data, s.bias));
  EXPECT_EQ(f.tensors.at("scalar").shape, std::vector<int>{});
  EXPECT_EQ(f.tensors.at("scalar").data, std::vector<float>{3.5f});
  EXPECT_EQ(f.tensors.at("empty").shape, (std::vector<int>{0, 5}));
  EXPECT_TRUE(f.tensors.at("empty").data.empty());
  EXPECT_EQ(f.tensors.at("layers.1.\xC9\xB8").data, std::vector<float>{3.5f});
}

TEST(Safetensors, NoTensorsAndNoMetadataIsAValidFile) {
  ScratchDir dir;
  write_safetensors(dir.file("empty.safetensors"), {}, {});
  const SafetensorsFile f = read_safetensors(dir.file("empty.safetensors"));
  EXPECT_TRUE(f.tensors.empty());
  EXPECT_TRUE(f.metadata.empty());
  EXPECT_EQ(read_bytes(dir.file("empty.safetensors")), le64(8) + "{}      ");
}

TEST(Safetensors, WriterOutputIsExactlyTheFormat) {
  ScratchDir dir;
  const float x[2] = {1.0f, -2.0f};
  write_safetensors(dir.file("x.safetensors"), {{"x", {2}, x}}, {{"step", "7"}});
  std::string header = R"({"__metadata__":{"step":"7"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  EXPECT_EQ(read_bytes(dir.file("x.safetensors")),
            le64(header.size()) + header + std::string("\x00\x00\x80\x3F\x00\x00\x00\xC0", 8));
}

// What a Python reader does with json + struct: length, JSON header, offsets into aligned data.
TEST(Safetensors, HeaderLayoutIsLengthThenJsonThenAlignedData) {
  ScratchDir dir;
  Sample s;
  for (size_t extra = 0; extra < 8; extra++) {  // every header length mod 8
    SCOPED_TRACE("extra=" + std::to_string(extra));
    s.metadata["pad"] = std::string(extra, 'p');
    const std::string path = dir.file("layout.safetensors");
    write_safetensors(path, s.tensors, s.metadata);
    const std::string bytes = read_bytes(path);
    ASSERT_GE(bytes.size(), 8u);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
    ASSERT_LE(8 + n, bytes.size());
    EXPECT_EQ((8 + n) % 8, 0u);
    const std::string text = bytes.substr(8, n);
    const size_t last = text.find_last_not_of(' ');
    ASSERT_NE(last, std::string::npos);
    EXPECT_EQ(text[last], '}');
    EXPECT_LT(text.size() - 1 - last, 8u);  // at most 7 spaces of padding
    const nlohmann::json h = nlohmann::json::parse(text);
    ASSERT_TRUE(h.is_object());
    EXPECT_EQ(h["__metadata__"]["pad"], std::string(extra, 'p'));
    EXPECT_EQ(h["embed"]["dtype"], "F32");
    EXPECT_EQ(h["embed"]["shape"], nlohmann::json::parse("[3,4]"));
    const std::string data = bytes.substr(8 + n);
    EXPECT_EQ(data.size(), (12u + 3u) * 4u);
    const uint64_t b0 = h["embed"]["data_offsets"][0], e0 = h["embed"]["data_offsets"][1];
    const uint64_t b1 = h["layers.0.bias"]["data_offsets"][0], e1 = h["layers.0.bias"]["data_offsets"][1];
    EXPECT_EQ(data.substr(b0, e0 - b0), float_bytes(s.embed));
    EXPECT_EQ(data.substr(b1, e1 - b1), float_bytes(s.bias));
  }
}

TEST(Safetensors, ReadsFilesFromOtherWritersUnpaddedAndInAnyOrder) {
  ScratchDir dir;
  // No padding; the header lists "a" first but its data comes second.
  const std::string header =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"b":{"shape":[],"data_offsets":[0,4],"dtype":"F32"}})";
  write_bytes(dir.file("foreign.safetensors"), raw_file(header, float_bytes({9.0f, 1.0f, 2.0f})));
  const SafetensorsFile f = read_safetensors(dir.file("foreign.safetensors"));
  EXPECT_EQ(f.tensors.at("a").data, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(f.tensors.at("b").data, std::vector<float>{9.0f});
  EXPECT_TRUE(f.metadata.empty());
}

// ---------------------------------------------------------------------------------------------
// atomic overwrite

TEST(Safetensors, OverwriteReplacesTheFileAndLeavesNoTemp) {
  ScratchDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  Sample s;
  write_safetensors(path, s.tensors, {{"step", "1"}});
  write_safetensors(path, s.tensors, {{"step", "2"}});
  EXPECT_EQ(read_safetensors(path).metadata.at("step"), "2");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  // A stale temp file from an earlier crash is simply overwritten.
  write_bytes(path + ".tmp", "garbage from a crash");
  write_safetensors(path, s.tensors, {{"step", "3"}});
  EXPECT_EQ(read_safetensors(path).metadata.at("step"), "3");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(Safetensors, FailedWriteLeavesOldFileIntactWhenTempCannotBeCreated) {
  ScratchDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  Sample s;
  write_safetensors(path, s.tensors, {{"step", "1"}});
  const std::string before = read_bytes(path);
  fs::create_directory(path + ".tmp");  // root ignores permissions; a directory in the way does not
  const std::string msg = message_of<IoError>([&] { write_safetensors(path, s.tensors, {{"step", "2"}}); });
  EXPECT_TRUE(contains(msg, path + ": cannot create the temporary file " + path + ".tmp"));
  EXPECT_TRUE(contains(msg, "Is a directory"));
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(fs::is_directory(path + ".tmp"));  // not ours to delete; and no file by that name
}

TEST(Safetensors, FailedWriteIntoMissingDirectoryCreatesNothing) {
  ScratchDir dir;
  const std::string path = dir.file("no_such_dir/ckpt.safetensors");
  Sample s;
  const std::string msg = message_of<IoError>([&] { write_safetensors(path, s.tensors, {}); });
  EXPECT_TRUE(contains(msg, path + ": cannot create the temporary file"));
  EXPECT_TRUE(contains(msg, "No such file or directory"));
  EXPECT_FALSE(fs::exists(dir.file("no_such_dir")));
}

// Disk full, simulated with a file-size limit (which binds root too): the write fails midway.
TEST(Safetensors, WriteFailingMidwayRemovesTempAndKeepsOldFile) {
  ScratchDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  Sample s;
  write_safetensors(path, s.tensors, {{"step", "1"}});
  const std::string before = read_bytes(path);
  std::vector<float> big(1 << 18, 0.25f);  // 1 MiB of data

  struct rlimit old_limit {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  struct rlimit small = old_limit;
  small.rlim_cur = 64 * 1024;
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // get EFBIG from write() instead of a signal
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string msg;
  try {
    write_safetensors(path, {{"big", {1 << 18}, big.data()}}, {{"step", "2"}});
  } catch (const IoError& e) {
    msg = e.what();
  } catch (const std::exception& e) {
    msg = std::string("wrong exception type: ") + e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_TRUE(contains(msg, path + ": writing " + path + ".tmp failed after 65536 bytes: File too large"));
  EXPECT_TRUE(contains(msg, "previous file, if any, is unchanged"));
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(Safetensors, RenameOntoADirectoryFailsCleanly) {
  ScratchDir dir;
  const std::string path = dir.file("taken");
  fs::create_directory(path);
  Sample s;
  const std::string msg = message_of<IoError>([&] { write_safetensors(path, s.tensors, {}); });
  EXPECT_TRUE(contains(msg, path + ": renaming " + path + ".tmp over it failed"));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_TRUE(fs::is_directory(path));
}

TEST(Safetensors, WriterRejectsBadArgumentsBeforeWritingAnything) {
  ScratchDir dir;
  const std::string path = dir.file("bad.safetensors");
  const float x[4] = {1, 2, 3, 4};
  struct Case {
    std::vector<TensorRef> tensors;
    std::map<std::string, std::string> metadata;
    std::string detail;
  };
  const std::vector<Case> cases = {
      {{{"w", {2}, x}, {"w", {2}, x}}, {}, "tensor \"w\": the name is given twice"},
      {{{"__metadata__", {1}, x}}, {}, "tensor \"__metadata__\": the name is reserved"},
      {{{"", {1}, x}}, {}, "a tensor has an empty name"},
      {{{"w", {2, -1}, x}}, {}, "tensor \"w\": negative dimension -1"},
      {{{"w", {2}, nullptr}}, {}, "tensor \"w\": data is null"},
      {{{"w\xFF", {1}, x}}, {}, "invalid UTF-8 at byte 1"},
      {{}, {{"k", "v\xC0\xAF"}}, "metadata value of \"k\": invalid UTF-8 at byte 1"},
      {{}, {{"\xFF", "v"}}, "metadata key"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.detail);
    const std::string msg = message_of<InputError>([&] { write_safetensors(path, c.tensors, c.metadata); });
    EXPECT_TRUE(contains(msg, path + ": "));
    EXPECT_TRUE(contains(msg, c.detail));
    EXPECT_FALSE(fs::exists(path));
    EXPECT_FALSE(fs::exists(path + ".tmp"));
  }
}

// ---------------------------------------------------------------------------------------------
// reading malformed and hostile files

TEST(Safetensors, MissingFileOrDirectoryIsAClearError) {
  ScratchDir dir;
  const std::string missing = dir.file("missing.safetensors");
  std::string msg = message_of<IoError>([&] { read_safetensors(missing); });
  EXPECT_TRUE(contains(msg, missing + ": cannot open for reading: No such file or directory"));
  msg = message_of<InputError>([&] { read_safetensors(dir.path().string()); });
  EXPECT_TRUE(contains(msg, "is a directory"));
}

TEST(Safetensors, RejectsMalformedFilesNamingTheProblem) {
  ScratchDir dir;
  const std::string f4 = float_bytes({1.0f});
  const auto t = [](const std::string& name, const std::string& fields) { return "\"" + name + "\":{" + fields + "}"; };
  const std::string ok_w = t("w", R"("dtype":"F32","shape":[1],"data_offsets":[0,4])");
  std::string deep;  // nested far deeper than any recursive parser could survive
  for (int i = 0; i < 200000; i++) deep += '[';
  for (int i = 0; i < 200000; i++) deep += ']';
  struct Case {
    std::string bytes, detail;
  };
  const std::vector<Case> cases = {
      {"", "file is 0 bytes, shorter than the 8-byte header length"},
      {le64(2).substr(0, 7), "file is 7 bytes"},
      {le64(200'000'000) + "{}", "header length 200000000 exceeds the 100000000-byte limit"},
      {le64(UINT64_MAX) + "{}", "header length 18446744073709551615 exceeds"},
      {le64(100) + "{}" + f4, "header length 100 runs past the end of the file (14 bytes, so at most 6)"},
      {raw_file("{\"w\": ", ""), "header is not valid JSON"},
      {raw_file("{\"w\xFF\": 1}", ""), "header is not valid JSON"},
      {raw_file("", ""), "header is not valid JSON"},
      {raw_file("[1, 2]", ""), "header is an array, not a JSON object"},
      {raw_file("\"text\"", ""), "header is \"text\", not a JSON object"},
      {raw_file(deep, ""), "header is an array, not a JSON object"},
      {raw_file("{\"w\": " + deep + "}", ""), "tensor \"w\" is an array, not an object"},
      {raw_file("{\"w\": 5}", ""), "tensor \"w\" is 5, not an object"},
      {raw_file("{" + t("w", R"("shape":[1],"data_offsets":[0,4])") + "}", f4), "tensor \"w\" has no \"dtype\""},
      {raw_file("{" + t("w", R"("dtype":"F32","data_offsets":[0,4])") + "}", f4), "tensor \"w\" has no \"shape\""},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[1])") + "}", f4), "tensor \"w\" has no \"data_offsets\""},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1)") + "}", f4),
       "tensor \"w\" has an unexpected key \"x\""},
      {raw_file("{" + t("w", R"("dtype":"F16","shape":[2],"data_offsets":[0,4])") + "}", f4),
       "tensor \"w\": dtype \"F16\" is not supported (only F32)"},
      {raw_file("{" + t("w", R"("dtype":"BF16","shape":[2],"data_offsets":[0,4])") + "}", f4), "dtype \"BF16\""},
      {raw_file("{" + t("w", R"("dtype":32,"shape":[1],"data_offsets":[0,4])") + "}", f4), "tensor \"w\": dtype is 32"},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":4,"data_offsets":[0,4])") + "}", f4),
       "tensor \"w\": shape is 4, not a list"},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[-1],"data_offsets":[0,4])") + "}", f4),
       "tensor \"w\": shape entry 0 is -1, not a non-negative integer"},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[1,2.5],"data_offsets":[0,4])") + "}", f4),
       "tensor \"w\": shape entry 1 is 2.5"},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":["1"],"data_offsets":[0,4])") + "}", f4), "shape entry 0 is \"1\""},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[[1]],"data_offsets":[0,4])") + "}", f4), "shape entry 0 is an array"},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4])") + "}", f4),
       "tensor \"w\": shape [4294967296, 4294967296] overflows"},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4])") + "}", f4),
       "shape [4611686018427387904] overflows"},  // ×4 bytes overflows
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[3000000000],"data_offsets":[0,4])") + "}", f4),
       "tensor \"w\": dimension 3000000000 in shape [3000000000] exceeds 2147483647"},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[1],"data_offsets":0)") + "}", f4),
       "tensor \"w\": data_offsets must be [begin, end]"},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[1],"data_offsets":[0,4,8])") + "}", f4), "(got 3 entries)"},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[1],"data_offsets":[-4,0])") + "}", f4),
       "tensor \"w\": data_offsets must be [begin, end]"},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[1],"data_offsets":[0,"4"])") + "}", f4),
       "tensor \"w\": data_offsets must be [begin, end]"},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[0],"data_offsets":[4,0])") + "}", f4),
       "tensor \"w\": data_offsets [4, 0] has begin > end"},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[2],"data_offsets":[0,8])") + "}", f4),
       "tensor \"w\": data_offsets [0, 8] ends beyond the data section (4 bytes)"},
      {raw_file("{" + t("w", R"("dtype":"F32","shape":[3],"data_offsets":[0,8])") + "}", f4 + f4),
       "tensor \"w\": data_offsets [0, 8] span 8 bytes but shape [3] of F32 needs 12"},
      {raw_file("{" + t("a", R"("dtype":"F32","shape":[2],"data_offsets":[0,8])") + "," +
                    t("b", R"("dtype":"F32","shape":[2],"data_offsets":[4,12])") + "}",
                f4 + f4 + f4),
       "tensors \"a\" [0, 8] and \"b\" [4, 12] overlap"},
      {raw_file("{" + t("a", R"("dtype":"F32","shape":[1],"data_offsets":[0,4])") + "," +
                    t("b", R"("dtype":"F32","shape":[1],"data_offsets":[8,12])") + "}",
                f4 + f4 + f4),
       "bytes [4, 8) of the data section belong to no tensor (before \"b\")"},
      {raw_file("{" + ok_w + "}", f4 + f4), "bytes [4, 8) at the end of the data section belong to no tensor"},
      {raw_file("{" + ok_w + "," + ok_w + "}", f4), "header repeats the key \"w\" (two tensors with one name)"},
      {raw_file(R"({"__metadata__":[1]})", ""), "__metadata__ is an array, not an object of strings"},
      {raw_file(R"({"__metadata__":{"step":5}})", ""), "__metadata__ value of \"step\" is 5, not a string"},
      {raw_file(R"({"__metadata__":{"vocab":{"a":1}}})", ""), "__metadata__ value of \"vocab\" is an object"},
      {raw_file(R"({"__metadata__":{"k":"1","k":"2"}})", ""), "header repeats the key \"k\" inside one object"},
      {raw_file("{\"a\\nb\": 5}", ""), "tensor \"a\\nb\" is 5"},  // names are quoted: messages stay one line
  };
  const std::string path = dir.file("bad.safetensors");
  for (size_t i = 0; i < cases.size(); i++) {
    SCOPED_TRACE("case " + std::to_string(i) + ": " + cases[i].detail);
    write_bytes(path, cases[i].bytes);
    const std::string msg = message_of<InputError>([&] { read_safetensors(path); });
    EXPECT_TRUE(contains(msg, path + ": "));
    EXPECT_TRUE(contains(msg, cases[i].detail));
    EXPECT_TRUE(one_line(msg));
  }
}

TEST(Safetensors, EveryTruncationAndRandomCorruptionIsRejectedOrReadNeverCrashes) {
  ScratchDir dir;
  const std::string good_path = dir.file("good.safetensors"), path = dir.file("bad.safetensors");
  Sample s;
  write_safetensors(good_path, s.tensors, s.metadata);
  const std::string good = read_bytes(good_path);
  for (size_t len = 0; len < good.size(); len++) {
    write_bytes(path, good.substr(0, len));
    EXPECT_THROW(read_safetensors(path), InputError) << "prefix of " << len << " bytes";
  }
  std::mt19937 rng(3);
  int accepted = 0;
  for (int trial = 0; trial < 1000; trial++) {
    std::string bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; k++) bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xFF);
    write_bytes(path, bytes);
    try {
      read_safetensors(path);
      accepted++;  // e.g. a flipped bit inside the float data
    } catch (const InputError&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "trial " << trial << " threw a non-InputError: " << e.what();
    }
  }
  EXPECT_GT(accepted, 0);     // data corruption is not detectable, and must not be reported
  EXPECT_LT(accepted, 1000);  // header corruption is
}
