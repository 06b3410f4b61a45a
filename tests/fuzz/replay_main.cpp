// replay_main: a main() for the fuzz targets without libFuzzer, so that every build's CTest runs
// them: each file of a seed corpus, then a fixed number of deterministic mutations of each (byte
// flips, overwrites with boundary bytes, deletions, insertions, truncations, splices of two
// files). The target must return normally for every input: a crash, an abort (a message of more
// than one line, an exception other than spectral::Error) or a sanitizer report fails the run.
// Under AddressSanitizer, tests/CMakeLists.txt caps any single allocation (max_allocation_size_mb)
// at what inputs of this size can justify, so an allocation sized by a hostile length field fails
// too. Usage: replay_fuzz_X CORPUS_DIR MUTATIONS_PER_FILE SEED
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using Bytes = std::vector<uint8_t>;

Bytes mutate(const Bytes& in, const Bytes& other, std::mt19937_64& rng) {
  Bytes b = in;
  auto pick = [&](size_t n) { return n ? size_t(rng() % n) : size_t(0); };
  static const uint8_t kSpecial[] = {0x00, 0x01, 0x7f, 0x80, 0xff, '"', '{', '}', '[', ']', ':', ',', '9', '-', '\n'};
  const int edits = 1 + int(rng() % 4);
  for (int e = 0; e < edits; e++) {
    switch (rng() % 6) {
      case 0:  // flip a bit
        if (!b.empty()) b[pick(b.size())] ^= uint8_t(1u << (rng() % 8));
        break;
      case 1:  // a boundary or structural byte
        if (!b.empty()) b[pick(b.size())] = kSpecial[rng() % sizeof kSpecial];
        break;
      case 2: {  // delete a run
        if (b.empty()) break;
        const size_t at = pick(b.size()), n = 1 + pick(std::min<size_t>(16, b.size() - at));
        b.erase(b.begin() + at, b.begin() + at + std::min(n, b.size() - at));
        break;
      }
      case 3: {  // insert a run of one byte
        const size_t at = pick(b.size() + 1), n = 1 + pick(8);
        b.insert(b.begin() + at, n, kSpecial[rng() % sizeof kSpecial]);
        break;
      }
      case 4:  // truncate
        b.resize(pick(b.size() + 1));
        break;
      default: {  // splice: our head, the other file's tail
        const size_t cut = pick(b.size() + 1), from = pick(other.size() + 1);
        b.resize(cut);
        b.insert(b.end(), other.begin() + from, other.end());
        break;
      }
    }
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR MUTATIONS_PER_FILE SEED\n", argv[0]);
    return 2;
  }
  std::vector<Bytes> corpus;
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(argv[1])) {
    if (!e.is_regular_file()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    corpus.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    names.push_back(e.path().filename().string());
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "%s: no seed files in %s\n", argv[0], argv[1]);
    return 2;
  }
  const int mutations = std::atoi(argv[2]);
  std::mt19937_64 rng(std::strtoull(argv[3], nullptr, 10));
  size_t runs = 0;
  for (size_t i = 0; i < corpus.size(); i++) {
    LLVMFuzzerTestOneInput(corpus[i].data(), corpus[i].size());
    runs++;
    for (int m = 0; m < mutations; m++) {
      const Bytes b = mutate(corpus[i], corpus[rng() % corpus.size()], rng);
      LLVMFuzzerTestOneInput(b.data(), b.size());
      runs++;
    }
  }
  std::printf("%zu inputs from %zu seed files, all handled\n", runs, corpus.size());
  return 0;
}
