// cli_runner: runs the spectral binary from tests (exit code, stdout, stderr; or in the background
// for signals), reads metrics.jsonl, and makes small generated texts and temporary directories.
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

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

// Runs a shell command line with stdout and stderr sent to files in dir (stdin from stdin_path) and
// captures its exit code and both outputs.
inline RunResult run_captured(const std::string& command, const std::string& dir,
                              const std::string& stdin_path = "/dev/null") {
  const std::string out = dir + "/stdout.txt", err = dir + "/stderr.txt";
  const std::string cmd = command + " >" + out + " 2>" + err + " <" + stdin_path;
  const int status = std::system(cmd.c_str());
  RunResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// Runs `spectral <args>` (args already shell-quoted where needed) and captures everything.
inline RunResult run_spectral(const std::string& args, const std::string& dir) {
  return run_captured(std::string(SPECTRAL_BINARY) + " " + args, dir);
}

// A spectral process running in the background (for signals): `exec`ed through sh so that pid is
// spectral's own; stdout and stderr go to files in dir. Optional file-size limit (bytes; 0 = none),
// with SIGXFSZ ignored so that writes past it fail with EFBIG, as on a full disk.
struct Child {
  pid_t pid = -1;
  std::string out_path, err_path;
};

inline Child spawn_spectral(const std::string& args, const std::string& dir, rlim_t file_size_limit = 0) {
  static int counter = 0;
  Child c;
  const std::string tag = std::to_string(counter++);
  c.out_path = dir + "/child" + tag + ".out";
  c.err_path = dir + "/child" + tag + ".err";
  const std::string cmd = "exec " + std::string(SPECTRAL_BINARY) + " " + args + " >" + c.out_path + " 2>" + c.err_path + " </dev/null";
  c.pid = ::fork();
  if (c.pid == 0) {
    if (file_size_limit > 0) {
      std::signal(SIGXFSZ, SIG_IGN);
      struct rlimit lim {file_size_limit, file_size_limit};
      ::setrlimit(RLIMIT_FSIZE, &lim);
    }
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return c;
}

// Waits up to timeout_s for the child; returns its wait status, or -1 on timeout (child killed).
inline int wait_child(const Child& c, double timeout_s, double* waited_s = nullptr) {
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (waited_s) *waited_s = dt;
    if (r == c.pid) return status;
    if (dt > timeout_s) {
      ::kill(c.pid, SIGKILL);
      ::waitpid(c.pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// The JSON lines of a metrics.jsonl (a last line cut short by a kill is left out).
inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(slurp(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      rows.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::parse_error&) {
    }
  }
  return rows;
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
