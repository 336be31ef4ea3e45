// LocalArtifactStore: trial artifacts as files beside the database, replaced
// whole, with their SHA-256, never reachable outside the store's directory.
#include "server/storage/artifact_store.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "common/sha256.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::vernier::testing::StatusIs;

constexpr int64_t kLimit = 1 << 20;

class ArtifactStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = LocalArtifactStore::Open(dir_.File("artifacts"));
    ASSERT_OK(store);
    store_ = *std::move(store);
  }

  // Stores `files` (path -> contents) as trial `trial`'s artifacts, each in
  // two chunks.
  absl::Status Put(int64_t trial, const std::map<std::string, std::string>& files) {
    ASSIGN_OR_RETURN(std::unique_ptr<ArtifactStore::Writer> writer,
                     store_->StartWrite("s", trial, kLimit));
    for (const auto& [path, contents] : files) {
      RETURN_IF_ERROR(writer->Append(path, contents.substr(0, contents.size() / 2)));
      RETURN_IF_ERROR(writer->Append(path, contents.substr(contents.size() / 2)));
    }
    return writer->Commit();
  }

  absl::StatusOr<std::string> ReadBack(int64_t trial, const std::string& path) {
    std::string contents;
    RETURN_IF_ERROR(store_->Read("s", trial, path, [&contents](absl::string_view data) {
      contents.append(data.data(), data.size());
      return true;
    }));
    return contents;
  }

  std::vector<std::string> Paths(int64_t trial) {
    std::vector<std::string> paths;
    absl::StatusOr<std::vector<StoredArtifact>> files = store_->List("s", trial);
    EXPECT_TRUE(files.ok()) << files.status();
    if (!files.ok()) return paths;
    for (const StoredArtifact& file : *files) paths.push_back(file.path);
    return paths;
  }

  testing::TempDir dir_;
  std::unique_ptr<LocalArtifactStore> store_;
};

TEST_F(ArtifactStoreTest, StoresFilesInDirectoriesWithSizesAndChecksums) {
  ASSERT_OK(Put(2, {{"model/model.pt", "weights"}, {"plot.png", "png"}, {"empty.txt", ""}}));
  auto listed = store_->List("s", 2);
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0], (StoredArtifact{2, "empty.txt", 0, Sha256Hex("")}));
  EXPECT_EQ((*listed)[1], (StoredArtifact{2, "model/model.pt", 7, Sha256Hex("weights")}));
  EXPECT_EQ((*listed)[2].path, "plot.png");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");  // FIPS 180-2.
  EXPECT_EQ(*ReadBack(2, "model/model.pt"), "weights");
  EXPECT_EQ(*ReadBack(2, "empty.txt"), "");
  EXPECT_THAT(*store_->Trials("s"), ElementsAre(2));
  EXPECT_THAT(*store_->Trials("other"), IsEmpty());
  EXPECT_THAT(*store_->List("s", 9), IsEmpty());
}

TEST_F(ArtifactStoreTest, LargeFilesComeBackInBoundedChunks) {
  const std::string big(kMaxArtifactChunkBytes * 2 + 5, 'x');
  auto writer = store_->StartWrite("s", 0, int64_t{8} << 20);
  ASSERT_OK(writer);
  for (size_t at = 0; at < big.size(); at += kMaxArtifactChunkBytes) {
    ASSERT_OK((*writer)->Append("big.bin", big.substr(at, kMaxArtifactChunkBytes)));
  }
  ASSERT_OK((*writer)->Commit());
  std::vector<size_t> chunks;
  ASSERT_OK(store_->Read("s", 0, "big.bin", [&chunks](absl::string_view data) {
    chunks.push_back(data.size());
    return true;
  }));
  EXPECT_THAT(chunks, ElementsAre(kMaxArtifactChunkBytes, kMaxArtifactChunkBytes, 5));
  EXPECT_EQ((*store_->List("s", 0))[0].sha256, Sha256Hex(big));
}

TEST_F(ArtifactStoreTest, PathsThatCouldLeaveTheStoreAreRefusedNamingThem) {
  auto writer = store_->StartWrite("s", 1, kLimit);
  ASSERT_OK(writer);
  const std::vector<std::string> refused = {
      "../escape", "a/../../b", "/etc/passwd",          "",    "a//b", "a/", "./a",
      "a b",       "a\\b",      std::string("a\0b", 3), "x/\n"};
  for (const std::string& path : refused) {
    EXPECT_THAT((*writer)->Append(path, "data"), StatusIs(absl::StatusCode::kInvalidArgument))
        << path;
  }
  EXPECT_THAT((*writer)->Append("../escape", "x"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("path: \"../escape\" is not a valid artifact path")));
  EXPECT_THAT(store_->Read("s", 1, "../../etc/passwd", [](absl::string_view) { return true; }),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("../../etc/passwd")));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("escape")));
}

TEST_F(ArtifactStoreTest, AFileCannotAlsoBeADirectoryOrComeBackLater) {
  auto writer = store_->StartWrite("s", 1, kLimit);
  ASSERT_OK(writer);
  ASSERT_OK((*writer)->Append("model", "x"));
  EXPECT_THAT((*writer)->Append("model/weights.pt", "y"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sent as a file")));
  ASSERT_OK((*writer)->Append("dir/a", "x"));
  EXPECT_THAT((*writer)->Append("dir", "y"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("directory")));
  ASSERT_OK((*writer)->Append("later", "x"));
  EXPECT_THAT((*writer)->Append("model", "again"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("already sent")));
}

TEST_F(ArtifactStoreTest, MoreThanMaxBytesIsRefusedAndNothingIsStored) {
  ASSERT_OK(Put(4, {{"old.txt", "old"}}));
  auto writer = store_->StartWrite("s", 4, 10);
  ASSERT_OK(writer);
  ASSERT_OK((*writer)->Append("a", "123456"));
  EXPECT_THAT((*writer)->Append("b", "12345"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("over 10 bytes (artifacts.max_bytes)")));
  EXPECT_THAT((*writer)->Append("a", std::string(kMaxArtifactChunkBytes + 1, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  writer->reset();  // Abandoned: the earlier artifacts stay.
  EXPECT_THAT(Paths(4), ElementsAre("old.txt"));
  EXPECT_THAT(store_->StartWrite("s", 4, 0).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(ArtifactStoreTest, ACommitReplacesTheTrialsFilesWholeAndOnlyThen) {
  ASSERT_OK(Put(5, {{"a.txt", "first"}, {"only-first.txt", "1"}}));
  auto writer = store_->StartWrite("s", 5, kLimit);
  ASSERT_OK(writer);
  ASSERT_OK((*writer)->Append("a.txt", "second"));
  // Not committed yet: readers still see the first upload, whole.
  EXPECT_THAT(Paths(5), ElementsAre("a.txt", "only-first.txt"));
  EXPECT_EQ(*ReadBack(5, "a.txt"), "first");
  ASSERT_OK((*writer)->Commit());
  EXPECT_THAT(Paths(5), ElementsAre("a.txt"));
  EXPECT_EQ(*ReadBack(5, "a.txt"), "second");
  EXPECT_THAT(ReadBack(5, "only-first.txt").status(), StatusIs(absl::StatusCode::kNotFound));
  // An upload of no file removes them.
  auto empty = store_->StartWrite("s", 5, kLimit);
  ASSERT_OK(empty);
  ASSERT_OK((*empty)->Commit());
  EXPECT_THAT(Paths(5), IsEmpty());
  EXPECT_THAT(*store_->Trials("s"), IsEmpty());
}

TEST_F(ArtifactStoreTest, DeleteTrialFreesItsFilesOnly) {
  ASSERT_OK(Put(1, {{"m.pt", "one"}}));
  ASSERT_OK(Put(2, {{"m.pt", "two"}}));
  ASSERT_OK(store_->DeleteTrial("s", 1));
  ASSERT_OK(store_->DeleteTrial("s", 1));  // Nothing left: still OK.
  EXPECT_THAT(*store_->Trials("s"), ElementsAre(2));
  EXPECT_THAT(ReadBack(1, "m.pt").status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(*ReadBack(2, "m.pt"), "two");
  EXPECT_FALSE(std::filesystem::exists(dir_.File("artifacts/study-s/trial-1")));
}

TEST_F(ArtifactStoreTest, ReopeningKeepsCommittedFilesAndDropsUnfinishedUploads) {
  ASSERT_OK(Put(3, {{"m.pt", "kept"}}));
  auto writer = store_->StartWrite("s", 7, kLimit);
  ASSERT_OK(writer);
  ASSERT_OK((*writer)->Append("half.bin", "partial"));
  auto reopened = LocalArtifactStore::Open(dir_.File("artifacts"));
  ASSERT_OK(reopened);
  EXPECT_THAT(*(*reopened)->Trials("s"), ElementsAre(3));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.File("artifacts/tmp")));
}

}  // namespace
}  // namespace vernier
