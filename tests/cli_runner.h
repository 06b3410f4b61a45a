// cli_runner: runs the spectral binary from tests (exit code, stdout, stderr), and makes small
// generated texts and temporary directories for them.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace spectral::testing {

struct RunResult {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void spit(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// A fresh empty directory under the system temp dir.
inline std::string temp_dir(const std::string& tag) {
  static int counter = 0;
  auto p = std::filesystem::temp_directory_path() /
           ("spectral-test-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

// Runs `spectral <args>` (args already shell-quoted where needed) and captures everything.
inline RunResult run_spectral(const std::string& args, const std::string& dir) {
  const std::string out = dir + "/stdout.txt", err = dir + "/stderr.txt";
  const std::string cmd = std::string(SPECTRAL_BINARY) + " " + args + " >" + out + " 2>" + err + " </dev/null";
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// A small text with learnable structure: words from a fixed list in a random order, in lines.
inline std::string generated_text(size_t n_chars, unsigned seed = 1) {
  const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "see", "it"};
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n_chars) {
    s += words[rng() % 12];
    s += (rng() % 7 == 0) ? ".\n" : " ";
  }
  s.resize(n_chars);
  return s;
}

}  // namespace spectral::testing
