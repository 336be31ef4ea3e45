// TempDir: a private scratch directory for one test, removed with everything
// in it when the object dies. Every test that needs files makes its directory
// with this class, so that none leaks directories, shares one with a parallel
// run, or shells out to `rm -rf`.
//
// Header-only, so that a test can use it without linking vernier_testing.
//
// Thread-safety: an object is not thread-safe; distinct objects are
// independent (mkdtemp picks a fresh name even for concurrent processes).
#ifndef VERNIER_TESTS_TESTING_TEMP_DIR_H_
#define VERNIER_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace vernier::testing {

class TempDir {
 public:
  // What the destructor does when the running test has failed.
  enum class OnFailure {
    kRemove,  // Remove the directory anyway.
    kKeep,    // Keep it (and print its path) for a post-mortem: logs of the
              // server and workers that an end-to-end test started.
  };

  // Creates a fresh directory under gtest's ::testing::TempDir() (which
  // honours TEST_TMPDIR, as set by ctest or bazel), named after the running
  // test plus a unique suffix. When the directory cannot be created, the test
  // fails (non-fatally) and path() is empty.
  explicit TempDir(OnFailure on_failure = OnFailure::kRemove);

  // Removes the directory and its contents (std::filesystem::remove_all), or
  // keeps it as `on_failure` says; a removal error is a test failure.
  ~TempDir();

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // The directory's absolute path, without a trailing slash.
  const std::string& path() const { return path_; }

  // path() + "/" + name. Creates nothing.
  std::string File(absl::string_view name) const;

  // Writes `contents` to File(name), replacing the file, and returns that
  // path. A write error is a (non-fatal) test failure.
  std::string Write(absl::string_view name, absl::string_view contents) const;

 private:
  std::string path_;
  OnFailure on_failure_;
};

// The whole contents of the file at `path`, byte for byte; empty when it
// cannot be read (the test's own expectations then say what is missing).
inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// ---- Implementation ----------------------------------------------------------

namespace temp_dir_internal {

// Enough of the running test's name to recognise a kept directory: letters,
// digits, '-' and '_' only ('/' from parameterised tests would nest).
inline std::string TestNameForPath() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name =
      info == nullptr ? "no_test" : absl::StrCat(info->test_suite_name(), ".", info->name());
  constexpr size_t kMaxLength = 80;
  if (name.size() > kMaxLength) name.resize(kMaxLength);
  for (char& c : name) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '_' || c == '.';
    if (!plain) c = '_';
  }
  return name;
}

}  // namespace temp_dir_internal

inline TempDir::TempDir(OnFailure on_failure) : on_failure_(on_failure) {
  std::string base = ::testing::TempDir();
  if (base.empty() || base.back() != '/') base.push_back('/');
  std::string pattern =
      absl::StrCat(base, "vernier_", temp_dir_internal::TestNameForPath(), "_XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "cannot create a temporary directory " << pattern << ": "
                  << std::strerror(errno);
    return;
  }
  path_ = std::move(pattern);
}

inline TempDir::~TempDir() {
  if (path_.empty()) return;
  if (on_failure_ == OnFailure::kKeep && ::testing::Test::HasFailure()) {
    std::cerr << "TempDir: kept " << path_ << " of the failed test\n";
    return;
  }
  std::error_code error;
  std::filesystem::remove_all(path_, error);
  if (error) ADD_FAILURE() << "cannot remove " << path_ << ": " << error.message();
}

inline std::string TempDir::File(absl::string_view name) const {
  return absl::StrCat(path_, "/", name);
}

inline std::string TempDir::Write(absl::string_view name, absl::string_view contents) const {
  const std::string path = File(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  if (!out) ADD_FAILURE() << "cannot write " << path;
  return path;
}

}  // namespace vernier::testing

#endif  // VERNIER_TESTS_TESTING_TEMP_DIR_H_
