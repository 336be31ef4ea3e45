// Helpers shared by the worker tests: small trial programs written as
// scripts (temporary directories: tests/testing/temp_dir.h).
#ifndef VERNIER_TESTS_WORKER_TEST_UTIL_H_
#define VERNIER_TESTS_WORKER_TEST_UTIL_H_

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace vernier::worker::test_util {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// Writes an executable file at `path`.
inline void WriteScript(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  chmod(path.c_str(), 0755);
}

// The shebang line for Python scripts.
inline std::string PythonShebang() {
  return access("/usr/bin/python3", X_OK) == 0 ? "#!/usr/bin/python3\n"
                                               : "#!/usr/bin/env python3\n";
}

// True once `pid` no longer runs (gone, or a zombie waiting for its reaper).
inline bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) != 0) return true;
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || stat.substr(paren + 2, 1) == "Z";
}

// Waits (generously: this is not a timing check) for `pid` to be gone.
inline bool WaitUntilGone(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (ProcessGone(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Waits for a file a script writes (e.g. its pid) and returns its contents.
inline std::string WaitForFile(const std::string& path) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = ReadFile(path);
    if (!text.empty() && text.back() == '\n') return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return "";
}

}  // namespace vernier::worker::test_util

#endif  // VERNIER_TESTS_WORKER_TEST_UTIL_H_
