// The trial logs beside the database: appends at offsets, retries, gaps, the
// size cap and what it cut, and a store opened again on the same files.
#include "server/storage/log_store.h"

#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::vernier::testing::IsOkAndHolds;
using ::vernier::testing::StatusIs;

const LogKey kKey{"s", 3, 1};

class LogStoreTest : public ::testing::Test {
 protected:
  void Open(int64_t max_bytes = kDefaultMaxLogBytes) {
    store_.reset();
    auto store = LogStore::Open(dir_.File("logs"), max_bytes);
    ASSERT_OK(store);
    store_ = *std::move(store);
  }
  void SetUp() override { Open(); }

  // Everything kept of kKey's log from `offset`.
  LogSlice ReadAll(int64_t offset = 0) {
    absl::StatusOr<LogSlice> slice = store_->Read(kKey, offset, 1 << 30);
    EXPECT_OK(slice);
    return slice.ok() ? *slice : LogSlice{};
  }

  testing::TempDir dir_;
  std::unique_ptr<LogStore> store_;
};

TEST_F(LogStoreTest, ALogNeverWrittenReadsEmpty) {
  const LogSlice slice = ReadAll();
  EXPECT_EQ(slice.offset, 0);
  EXPECT_EQ(slice.end, 0);
  EXPECT_EQ(slice.first_kept, 0);
  EXPECT_EQ(slice.data, "");
}

TEST_F(LogStoreTest, AppendsAtOffsetsAndReadsBackFromAnyOffset) {
  EXPECT_THAT(store_->Append(kKey, 0, "epoch 1\n"), IsOkAndHolds(8));
  EXPECT_THAT(store_->Append(kKey, 8, "epoch 2\n"), IsOkAndHolds(16));
  LogSlice all = ReadAll();
  EXPECT_EQ(all.data, "epoch 1\nepoch 2\n");
  EXPECT_EQ(all.end, 16);
  LogSlice tail = ReadAll(8);
  EXPECT_EQ(tail.offset, 8);
  EXPECT_EQ(tail.data, "epoch 2\n");
  absl::StatusOr<LogSlice> bounded = store_->Read(kKey, 2, 3);
  ASSERT_OK(bounded);
  EXPECT_EQ(bounded->data, "och");
  EXPECT_EQ(ReadAll(16).data, "");
  EXPECT_EQ(ReadAll(99).offset, 16);  // Past the end: nothing, at the end.
}

TEST_F(LogStoreTest, ARetriedAppendChangesNothingAndAnOverlapStoresOnlyTheNewBytes) {
  ASSERT_OK(store_->Append(kKey, 0, "abcdef"));
  EXPECT_THAT(store_->Append(kKey, 0, "abcdef"), IsOkAndHolds(6));
  EXPECT_THAT(store_->Append(kKey, 2, "cd"), IsOkAndHolds(6));
  EXPECT_THAT(store_->Append(kKey, 4, "efgh"), IsOkAndHolds(8));
  EXPECT_EQ(ReadAll().data, "abcdefgh");
}

TEST_F(LogStoreTest, AnAppendPastTheEndStoresNothingAndSaysWhereTheLogEnds) {
  ASSERT_OK(store_->Append(kKey, 0, "abc"));
  EXPECT_THAT(store_->Append(kKey, 10, "xyz"), IsOkAndHolds(3));
  EXPECT_EQ(ReadAll().data, "abc");
  // A first append that does not start at 0 creates nothing.
  const LogKey other{"s", 4, 1};
  EXPECT_THAT(store_->Append(other, 5, "late"), IsOkAndHolds(0));
  absl::StatusOr<LogSlice> read = store_->Read(other, 0, 100);
  ASSERT_OK(read);
  EXPECT_EQ(read->end, 0);
}

TEST_F(LogStoreTest, AttemptsAndTrialsAreKeptApart) {
  ASSERT_OK(store_->Append(kKey, 0, "first attempt"));
  ASSERT_OK(store_->Append({"s", 3, 2}, 0, "second attempt"));
  ASSERT_OK(store_->Append({"t", 3, 1}, 0, "other study"));
  EXPECT_EQ(ReadAll().data, "first attempt");
  EXPECT_EQ(store_->Read({"s", 3, 2}, 0, 100)->data, "second attempt");
  EXPECT_EQ(store_->Read({"t", 3, 1}, 0, 100)->data, "other study");
}

TEST_F(LogStoreTest, KeepsTheLastMaxBytesAndSaysWhereTheKeptPartStarts) {
  Open(/*max_bytes=*/100);
  std::string all;
  for (int i = 0; i < 100; ++i) {
    const std::string line = absl::StrFormat("line %03d\n", i);  // 9 bytes.
    ASSERT_OK(store_->Append(kKey, static_cast<int64_t>(all.size()), line));
    all += line;
  }
  const LogSlice slice = ReadAll();
  EXPECT_EQ(slice.end, 900);
  EXPECT_EQ(slice.first_kept, 800);
  EXPECT_EQ(slice.offset, 800);
  EXPECT_EQ(slice.data, all.substr(800));
  // Offsets keep their meaning: reading from inside the kept part.
  EXPECT_EQ(ReadAll(891).data, "line 099\n");
  // A retry of bytes already cut changes nothing.
  EXPECT_THAT(store_->Append(kKey, 0, all.substr(0, 50)), IsOkAndHolds(900));
  EXPECT_EQ(ReadAll().data, all.substr(800));
  // The file itself stays bounded (a quarter over the cap at most, plus its
  // header line).
  std::ifstream file(dir_.File("logs/study-s/trial-3/attempt-1.log"),
                     std::ios::binary | std::ios::ate);
  EXPECT_LE(static_cast<int64_t>(file.tellg()), 125 + 32);
}

TEST_F(LogStoreTest, OneAppendLargerThanTheCapKeepsItsLastBytes) {
  Open(/*max_bytes=*/10);
  ASSERT_OK(store_->Append(kKey, 0, "0123456789abcdefghij"));
  const LogSlice slice = ReadAll();
  EXPECT_EQ(slice.first_kept, 10);
  EXPECT_EQ(slice.data, "abcdefghij");
}

TEST_F(LogStoreTest, ALogSurvivesOpeningTheStoreAgain) {
  Open(/*max_bytes=*/100);
  std::string all(300, 'x');
  for (int i = 0; i < 300; i += 30) ASSERT_OK(store_->Append(kKey, i, all.substr(i, 30)));
  Open(/*max_bytes=*/100);
  LogSlice slice = ReadAll();
  EXPECT_EQ(slice.end, 300);
  EXPECT_EQ(slice.first_kept, 200);
  EXPECT_THAT(store_->Append(kKey, 300, "after"), IsOkAndHolds(305));
  EXPECT_EQ(ReadAll(300).data, "after");
}

TEST_F(LogStoreTest, ADamagedFileIsDataLossWithoutItsPath) {
  ASSERT_OK(store_->Append(kKey, 0, "abc"));
  std::ofstream(dir_.File("logs/study-s/trial-3/attempt-1.log"), std::ios::trunc) << "garbage";
  absl::StatusOr<LogSlice> read = store_->Read(kKey, 0, 100);
  EXPECT_THAT(read.status(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(std::string(read.status().message()), ::testing::Not(HasSubstr("/")));
  EXPECT_THAT(store_->Append(kKey, 3, "d").status(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(LogStoreTest, RefusesBadInput) {
  EXPECT_THAT(store_->Append(kKey, -1, "x").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset")));
  EXPECT_THAT(store_->Append(kKey, 0, std::string(kMaxLogAppendBytes + 1, 'x')).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("data")));
  EXPECT_THAT(store_->Append({"s", -1, 1}, 0, "x").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Read(kKey, -5, 10).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("offset")));
  EXPECT_THAT(LogStore::Open(dir_.File("other"), 0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(LogStoreTest, WaitForAppendWakesWhenTheLogGrows) {
  ASSERT_OK(store_->Append(kKey, 0, "abc"));
  EXPECT_FALSE(store_->WaitForAppend(kKey, 3, absl::ZeroDuration()));
  EXPECT_TRUE(store_->WaitForAppend(kKey, 2, absl::ZeroDuration()));
  std::thread writer([this] { ASSERT_OK(store_->Append(kKey, 3, "def")); });
  // Generous: returns as soon as the append lands; this only bounds a hang.
  EXPECT_TRUE(store_->WaitForAppend(kKey, 3, absl::Seconds(60)));
  writer.join();
}

}  // namespace
}  // namespace vernier
