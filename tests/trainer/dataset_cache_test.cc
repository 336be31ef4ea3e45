#include "trainer/dataset_cache.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/test_data.h"

namespace vernier {
namespace {

using ::testing::Ne;
using ::vernier::testing::IsOkAndHolds;
using ::vernier::testing::StatusIs;

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::vector<absl::Span<const uint8_t>> Spans(const std::vector<std::vector<uint8_t>>& blobs) {
  std::vector<absl::Span<const uint8_t>> spans;
  for (const std::vector<uint8_t>& blob : blobs) spans.push_back(absl::MakeConstSpan(blob));
  return spans;
}

TEST(MakeCacheKeyTest, ChangesWhenASourceFileChanges) {
  testing::TempDir dir;
  testing::WriteTextFile(dir.File("a"), "one");
  absl::StatusOr<std::string> before = MakeCacheKey("k", {dir.File("a")});
  ASSERT_OK(before);
  EXPECT_THAT(*before, HasSubstr(dir.File("a")));
  EXPECT_THAT(MakeCacheKey("k", {dir.File("a")}), IsOkAndHolds(*before));
  EXPECT_THAT(MakeCacheKey("other", {dir.File("a")}), IsOkAndHolds(Ne(*before)));
  testing::WriteTextFile(dir.File("a"), "three");  // Another size.
  EXPECT_THAT(MakeCacheKey("k", {dir.File("a")}), IsOkAndHolds(Ne(*before)));
  ASSERT_OK_AND_ASSIGN(const std::string sized, MakeCacheKey("k", {dir.File("a")}));
  // Same size, another modification time.
  fs::last_write_time(dir.File("a"), fs::last_write_time(dir.File("a")) - std::chrono::hours(1));
  EXPECT_THAT(MakeCacheKey("k", {dir.File("a")}), IsOkAndHolds(Ne(sized)));

  absl::Status missing = MakeCacheKey("k", {dir.File("absent")}).status();
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(missing.message()), HasSubstr(dir.File("absent")));
}

TEST(CacheEntryTest, RoundTripsBlobsAndWritesAKeyFile) {
  testing::TempDir dir;
  const std::string cache = dir.File("cache/sub");  // Created on write.
  EXPECT_FALSE(ReadCacheEntry(cache, "k", "key-1").has_value());
  const std::vector<std::vector<uint8_t>> blobs = {{1, 2, 3}, {}, {255}};
  ASSERT_OK(WriteCacheEntry(cache, "k", "key-1", Spans(blobs)));
  std::optional<std::vector<std::vector<uint8_t>>> read = ReadCacheEntry(cache, "k", "key-1");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(*read, blobs);
  std::string raw = CacheEntryPath(cache, "k", "key-1");
  EXPECT_TRUE(fs::exists(raw.substr(0, raw.size() - 4) + ".key"));
  EXPECT_FALSE(ReadCacheEntry(cache, "k", "key-2").has_value());
}

TEST(CacheEntryTest, AnEntryForAnotherKeyOrTruncatedIsAMiss) {
  testing::TempDir dir;
  ASSERT_OK(WriteCacheEntry(dir.path(), "k", "key-1", Spans({{1, 2, 3, 4}})));
  // As if key-2 hashed to key-1's file name.
  fs::copy_file(CacheEntryPath(dir.path(), "k", "key-1"), CacheEntryPath(dir.path(), "k", "key-2"));
  EXPECT_FALSE(ReadCacheEntry(dir.path(), "k", "key-2").has_value());
  const std::string raw = CacheEntryPath(dir.path(), "k", "key-1");
  fs::resize_file(raw, fs::file_size(raw) - 1);
  EXPECT_FALSE(ReadCacheEntry(dir.path(), "k", "key-1").has_value());
}

TEST(CacheEntryTest, ConcurrentWritersAndReadersSeeWholeEntriesOnly) {
  testing::TempDir dir;
  const std::vector<std::vector<uint8_t>> blobs = {std::vector<uint8_t>(1 << 20, 7),
                                                   std::vector<uint8_t>(12345, 9)};
  std::vector<std::thread> threads;
  std::atomic<int> bad_reads{0};
  std::atomic<int> failed_writes{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        if (!WriteCacheEntry(dir.path(), "k", "key", Spans(blobs)).ok()) ++failed_writes;
      }
    });
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        auto read = ReadCacheEntry(dir.path(), "k", "key");
        if (read.has_value() && *read != blobs) ++bad_reads;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(bad_reads.load(), 0);
  EXPECT_EQ(failed_writes.load(), 0);
  EXPECT_EQ(ReadCacheEntry(dir.path(), "k", "key"), blobs);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_THAT(entry.path().string(), ::testing::Not(HasSubstr(".tmp.")));
    ++files;
  }
  EXPECT_EQ(files, 2);  // The .raw and the .key file; no temporary left over.
}

TEST(CacheEntryTest, KeepsTheNewestEntriesOfEachKind) {
  testing::TempDir dir;
  const auto now = fs::file_time_type::clock::now();
  for (int i = 0; i < kMaxCacheEntriesPerKind + 4; ++i) {
    const std::string key = "key-" + std::to_string(i);
    ASSERT_OK(WriteCacheEntry(dir.path(), "k", key, Spans({{1}})));
    // Older keys get older times, whatever the file system's resolution.
    fs::last_write_time(CacheEntryPath(dir.path(), "k", key), now - std::chrono::minutes(100 - i));
  }
  ASSERT_OK(WriteCacheEntry(dir.path(), "other", "x", Spans({{1}})));
  // The last write pruned "k" only once more than the limit existed; write
  // one more "k" entry to prune with the times set above.
  ASSERT_OK(WriteCacheEntry(dir.path(), "k", "newest", Spans({{1}})));
  int raw = 0;
  int keys = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    raw += entry.path().extension() == ".raw";
    keys += entry.path().extension() == ".key";
  }
  EXPECT_EQ(raw, kMaxCacheEntriesPerKind + 1);  // 16 of "k", 1 of "other".
  EXPECT_EQ(keys, raw);
  EXPECT_TRUE(ReadCacheEntry(dir.path(), "k", "newest").has_value());
  EXPECT_TRUE(ReadCacheEntry(dir.path(), "other", "x").has_value());
  const std::string newest_old = "key-" + std::to_string(kMaxCacheEntriesPerKind + 3);
  EXPECT_TRUE(ReadCacheEntry(dir.path(), "k", newest_old).has_value());
  EXPECT_FALSE(ReadCacheEntry(dir.path(), "k", "key-0").has_value());
}

TEST(CacheEntryTest, AWriteRemovesEntriesWhoseSourcesAreGone) {
  testing::TempDir dir;
  testing::WriteTextFile(dir.File("source"), "data");
  testing::WriteTextFile(dir.File("kept"), "data");
  ASSERT_OK_AND_ASSIGN(const std::string gone_key, MakeCacheKey("k", {dir.File("source")}));
  ASSERT_OK_AND_ASSIGN(const std::string kept_key, MakeCacheKey("k", {dir.File("kept")}));
  const std::string cache = dir.File("cache");
  ASSERT_OK(WriteCacheEntry(cache, "k", gone_key, Spans({{1}})));
  ASSERT_OK(WriteCacheEntry(cache, "k", kept_key, Spans({{2}})));
  fs::remove(dir.File("source"));
  ASSERT_OK(WriteCacheEntry(cache, "k", "unrelated", Spans({{3}})));
  EXPECT_FALSE(fs::exists(CacheEntryPath(cache, "k", gone_key)));
  EXPECT_TRUE(ReadCacheEntry(cache, "k", kept_key).has_value());
  EXPECT_TRUE(ReadCacheEntry(cache, "k", "unrelated").has_value());
}

TEST(DefaultCacheDirTest, FollowsXdgThenHome) {
  const char* old_xdg = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old_xdg ? old_xdg : "";
  setenv("XDG_CACHE_HOME", "/x/cache", 1);
  EXPECT_EQ(DefaultCacheDir(), "/x/cache/vernier");
  unsetenv("XDG_CACHE_HOME");
  if (std::getenv("HOME") != nullptr) {
    EXPECT_EQ(DefaultCacheDir(), std::string(std::getenv("HOME")) + "/.cache/vernier");
  }
  if (old_xdg != nullptr) setenv("XDG_CACHE_HOME", saved.c_str(), 1);
}

}  // namespace
}  // namespace vernier
