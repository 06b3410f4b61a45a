// UTF-8 decoding/encoding (every encoding length, every kind of invalid input with its byte
// offset), whole-file reads, and the character vocabulary: building, encoding with both
// out-of-vocabulary policies, decoding, and the validated JSON form stored in checkpoints.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "data/utf8.h"
#include "util/files.h"
#include "data/vocab.h"
#include "file_checks.h"
#include "util/errors.h"

using namespace spectral;
using namespace spectral::testing;

// ---------------------------------------------------------------------------------------------
// UTF-8

TEST(Utf8, EncodesKnownBytesForEachLength) {
  EXPECT_EQ(utf8_encode(U"$"), "\x24");
  EXPECT_EQ(utf8_encode(U"\u00A3"), "\xC2\xA3");
  EXPECT_EQ(utf8_encode(U"\u20AC"), "\xE2\x82\xAC");
  EXPECT_EQ(utf8_encode(U"\U00010348"), "\xF0\x90\x8D\x88");
  EXPECT_EQ(utf8_encode(U"\U0001F600"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(utf8_encode(U"\U0010FFFF"), "\xF4\x8F\xBF\xBF");
  EXPECT_EQ(utf8_decode("h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x98\x80"), U"h\u00E9llo \u4E16\u754C \U0001F600");
}

TEST(Utf8, RoundTripsEveryScalarValue) {
  std::u32string all;
  for (char32_t cp = 0; cp <= 0x10FFFF; cp++)
    if (cp < 0xD800 || cp > 0xDFFF) all.push_back(cp);
  const std::string bytes = utf8_encode(all);
  // 128·1 + 1920·2 + (63488 − 2048)·3 + 1048576·4 bytes
  EXPECT_EQ(bytes.size(), 128u + 1920u * 2 + 61440u * 3 + 1048576u * 4);
  EXPECT_EQ(utf8_decode(bytes), all);
}

TEST(Utf8, AcceptsBoundaryCharactersNulAndByteOrderMark) {
  EXPECT_EQ(utf8_decode(std::string("a\0b", 3)), std::u32string(U"a\0b", 3));
  EXPECT_EQ(utf8_decode("\xED\x9F\xBF\xEE\x80\x80"), U"\uD7FF\uE000");  // either side of the surrogates
  EXPECT_EQ(utf8_decode("\xEF\xBB\xBFx"), U"\uFEFFx");                   // a BOM is an ordinary character
  EXPECT_EQ(utf8_decode(""), U"");
}

TEST(Utf8, RejectsInvalidInputNamingTheByteOffset) {
  struct Case {
    std::string bytes;
    size_t offset;
    std::string detail;
  };
  const std::vector<Case> cases = {
      {"ab\x80" "cd", 2, "unexpected continuation byte 0x80"},
      {"\xF0\x9F\x98\x80\xBF", 4, "unexpected continuation byte 0xBF"},  // after a complete emoji
      {"a\xC0\xAF", 1, "overlong 2-byte encoding"},
      {"\xC1\xBF", 0, "overlong 2-byte encoding"},
      {"\xE0\x80\xAF", 0, "overlong 3-byte encoding"},
      {"xy\xE0\x9F\xBF", 2, "overlong 3-byte encoding"},
      {"\xF0\x8F\xBF\xBF", 0, "overlong 4-byte encoding"},
      {"z\xED\xA0\x80", 1, "surrogate"},
      {"\xED\xBF\xBF", 0, "surrogate"},
      {"\xF4\x90\x80\x80", 0, "above U+10FFFF"},
      {"\xF5\x80\x80\x80", 0, "above U+10FFFF"},
      {"ok\xFF", 2, "byte 0xFF never appears in UTF-8"},
      {"\xFE", 0, "byte 0xFE never appears in UTF-8"},
      {"abc\xE2\x82", 3, "needs 3 bytes but the input ends after 2"},
      {"\xE2\x82" "A", 0, "byte 2 (0x41) is not a continuation byte"},
      {"h\xC3\xA9llo\xC3", 6, "needs 2 bytes but the input ends after 1"},
      {"\xF0\x9F\x98", 0, "needs 4 bytes but the input ends after 3"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.detail);
    const std::string msg = message_of<InputError>([&] { utf8_decode(c.bytes, "data/input.txt"); });
    EXPECT_TRUE(contains(msg, "data/input.txt: invalid UTF-8 at byte " + std::to_string(c.offset) + " ("));
    EXPECT_TRUE(contains(msg, c.detail));
    EXPECT_TRUE(one_line(msg));
  }
  EXPECT_TRUE(contains(message_of<InputError>([] { utf8_decode("a\nb\nc\x80"); }), "at byte 5 (line 3)"));
}

TEST(Utf8, EncodeRejectsNonScalarValues) {
  const std::u32string surrogate = {U'a', static_cast<char32_t>(0xD800)};
  std::string msg = message_of<InputError>([&] { utf8_encode(surrogate); });
  EXPECT_TRUE(contains(msg, "U+D800 at position 1"));
  EXPECT_TRUE(contains(msg, "surrogate"));
  const std::u32string too_big = {static_cast<char32_t>(0x110000)};
  msg = message_of<InputError>([&] { utf8_encode(too_big); });
  EXPECT_TRUE(contains(msg, "U+110000 at position 0"));
  EXPECT_TRUE(contains(msg, "above U+10FFFF"));
}

TEST(Utf8, DescribesCodePointsOnOneLine) {
  EXPECT_EQ(describe_code_point(U'Z'), "\"Z\" (U+005A)");
  EXPECT_EQ(describe_code_point(U'\u00E9'), "\"\xC3\xA9\" (U+00E9)");
  EXPECT_EQ(describe_code_point(U'\U0001F600'), "\"\xF0\x9F\x98\x80\" (U+1F600)");
  EXPECT_EQ(describe_code_point(U'\n'), "\"\\n\" (U+000A)");
  EXPECT_EQ(describe_code_point(U'"'), "\"\\\"\" (U+0022)");
  EXPECT_EQ(describe_code_point(7), "U+0007");
  EXPECT_EQ(describe_code_point(0x2028), "U+2028");
  EXPECT_EQ(describe_code_point(0xD800), "U+D800");
}

TEST(ReadFileBytes, ReadsBinaryContentExactly) {
  ScratchDir dir;
  std::string bytes;
  for (int i = 0; i < 200000; i++) bytes.push_back(static_cast<char>((i * 131) % 256));  // NULs, 0xFF, > one buffer
  write_bytes(dir.file("blob"), bytes);
  EXPECT_EQ(read_file_bytes(dir.file("blob")), bytes);
  write_bytes(dir.file("empty"), "");
  EXPECT_EQ(read_file_bytes(dir.file("empty")), "");
}

TEST(ReadFileBytes, MissingFileAndDirectoryAreClearErrors) {
  ScratchDir dir;
  const std::string missing = dir.file("no_such_file.txt");
  std::string msg = message_of<IoError>([&] { read_file_bytes(missing); });
  EXPECT_TRUE(contains(msg, missing + ": cannot open for reading"));
  EXPECT_TRUE(contains(msg, "No such file or directory"));
  msg = message_of<IoError>([&] { read_file_bytes(dir.path().string()); });
  EXPECT_TRUE(contains(msg, dir.path().string() + ": cannot read: it is a directory"));
}

// ---------------------------------------------------------------------------------------------
// Vocab

TEST(Vocab, IsTheSortedSetOfDistinctCodePoints) {
  const Vocab v = Vocab::from_text(U"hello w\u00F6rld \U0001F600\n");
  EXPECT_EQ(v.code_points(), U"\n dehlorw\u00F6\U0001F600");
  EXPECT_EQ(v.size(), 11);
  EXPECT_EQ(v.id_of(U'\n'), 0);
  EXPECT_EQ(v.id_of(U'\U0001F600'), 10);
  EXPECT_EQ(v.id_of(U'Z'), -1);
  EXPECT_EQ(v.code_point(4), U'h');
  EXPECT_THROW(v.code_point(11), InputError);
  EXPECT_THROW(v.code_point(-1), InputError);
  EXPECT_TRUE(contains(message_of<InputError>([] { Vocab::from_text(U"", "data/empty.txt"); }), "data/empty.txt: "));
}

TEST(Vocab, EncodeDecodeRoundTripsNonAscii) {
  const std::string text = "To be, or not to be \xE2\x80\x94 \xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80!\n";
  const std::u32string cps = utf8_decode(text);
  const Vocab v = Vocab::from_text(cps);
  const Encoded e = v.encode(cps);
  ASSERT_EQ(e.ids.size(), cps.size());
  EXPECT_EQ(e.dropped, 0u);
  EXPECT_EQ(e.dropped_summary, "");
  for (size_t i = 0; i < cps.size(); i++) EXPECT_EQ(v.code_points()[static_cast<size_t>(e.ids[i])], cps[i]);
  EXPECT_EQ(v.decode(e.ids), text);
  EXPECT_EQ(Vocab::from_text(U"cab").encode(U"abcab").ids, (std::vector<int32_t>{0, 1, 2, 0, 1}));
}

TEST(Vocab, UnknownCharactersThrowNamingEachOnceWithItsFirstPosition) {
  const Vocab v = Vocab::from_text(U"abc");
  const std::string msg = message_of<InputError>([&] { v.encode(U"abZc\u00E9\nZ", OutOfVocab::Error, "prompt"); });
  EXPECT_TRUE(contains(msg, "prompt: characters not in the model's vocabulary: "));
  EXPECT_TRUE(contains(msg, "\"Z\" (U+005A) at position 2, \"\xC3\xA9\" (U+00E9) at position 4, \"\\n\" (U+000A) at position 5"));
  EXPECT_TRUE(contains(msg, "(3 distinct, 4 occurrences)"));
  EXPECT_EQ(msg.find("position 6"), std::string::npos) << msg;  // Z's second occurrence is not listed
  EXPECT_TRUE(one_line(msg));
}

TEST(Vocab, UnknownCharacterListIsCapped) {
  const Vocab v = Vocab::from_text(U"a");
  const std::string msg = message_of<InputError>([&] { v.encode(U"aBCDEFGHI"); });
  EXPECT_TRUE(contains(msg, "\"F\" (U+0046) at position 5 and 3 more (8 distinct, 8 occurrences)"));
  EXPECT_EQ(msg.find("\"G\""), std::string::npos) << msg;
}

TEST(Vocab, SkipPolicyDropsUnknownCharactersAndReportsThem) {
  const Vocab v = Vocab::from_text(U"abc");
  const Encoded e = v.encode(U"abZc\u00E9\nZ", OutOfVocab::Skip, "held-out text");
  EXPECT_EQ(e.ids, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(e.dropped, 4u);
  EXPECT_TRUE(contains(e.dropped_summary, "held-out text: dropped 4 characters not in the model's vocabulary: "));
  EXPECT_TRUE(contains(e.dropped_summary, "\"Z\" (U+005A) at position 2"));
  EXPECT_TRUE(one_line(e.dropped_summary));
  const Encoded clean = v.encode(U"cab", OutOfVocab::Skip);
  EXPECT_EQ(clean.ids, (std::vector<int32_t>{2, 0, 1}));
  EXPECT_EQ(clean.dropped, 0u);
  EXPECT_EQ(clean.dropped_summary, "");
}

TEST(Vocab, DecodeRejectsIdsOutsideTheVocabulary) {
  const Vocab v = Vocab::from_text(U"abc");
  EXPECT_TRUE(contains(message_of<InputError>([&] { v.decode({0, 3}); }), "token id 3 at position 1 is outside the vocabulary [0, 3)"));
  EXPECT_TRUE(contains(message_of<InputError>([&] { v.decode({-1}); }), "token id -1 at position 0"));
}

TEST(Vocab, JsonRoundTrip) {
  const Vocab v = Vocab::from_text(U"\n !AZaz\u00E9\U0001F600");
  const nlohmann::json j = v.to_json();
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j.dump(), "[10,32,33,65,90,97,122,233,128512]");
  EXPECT_EQ(Vocab::from_json(j).code_points(), v.code_points());
  EXPECT_EQ(Vocab::from_json_string(v.to_json_string()).code_points(), v.code_points());
}

TEST(Vocab, FromJsonRejectsAnythingButASortedListOfDistinctScalarValues) {
  struct Case {
    std::string json, detail;
  };
  const std::vector<Case> cases = {
      {"\"abc\"", "expected a JSON array of code points, got \"abc\""},
      {"{\"a\": 1}", "expected a JSON array of code points, got an object"},
      {"[]", "the vocabulary is empty"},
      {"[65, 66.5]", "entry 1 is 66.5, not a code point"},
      {"[-1]", "entry 0 is -1, not a code point"},
      {"[65, \"B\"]", "entry 1 is \"B\", not a code point"},
      {"[65, [66]]", "entry 1 is an array, not a code point"},
      {"[55296]", "entry 0 is U+D800, a UTF-16 surrogate"},
      {"[1114112]", "entry 0 is 1114112, above U+10FFFF"},
      {"[66, 65]", "entry 1 \"A\" (U+0041) comes after entry 0 \"B\" (U+0042)"},
      {"[65, 66, 66]", "entry 2 repeats \"B\" (U+0042)"},
      {"[65,", "not valid JSON"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json);
    const std::string msg = message_of<InputError>([&] { Vocab::from_json_string(c.json, "model.safetensors: vocab"); });
    EXPECT_TRUE(contains(msg, "model.safetensors: vocab: "));
    EXPECT_TRUE(contains(msg, c.detail));
  }
  const std::u32string unsorted = U"ba";
  EXPECT_TRUE(contains(message_of<InputError>([&] { Vocab::from_code_points(unsorted); }), "must be sorted"));
}
