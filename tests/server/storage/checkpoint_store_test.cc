// The pbt parts of storage: the checkpoint files beside the database, and the
// exploit records of trials in SQLite (schema version 2).
#include "server/storage/checkpoint_store.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/storage/record_codec.h"
#include "server/storage/sqlite_schema.h"
#include "server/storage/sqlite_study_store.h"
#include "tests/server/storage/sqlite_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vernier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vernier::testing::StatusIs;

using ::vernier::testing::ReadFile;

class CheckpointStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = CheckpointStore::Open(dir_.File("ckpt"));
    ASSERT_OK(store);
    store_ = *std::move(store);
  }

  absl::Status Put(int64_t trial, int64_t step, const std::string& content) {
    auto writer = store_->StartWrite("s", trial, step);
    if (!writer.ok()) return writer.status();
    RETURN_IF_ERROR((*writer)->Append("model.pt", content.substr(0, content.size() / 2)));
    RETURN_IF_ERROR((*writer)->Append("model.pt", content.substr(content.size() / 2)));
    RETURN_IF_ERROR((*writer)->Append("state.json", "{}"));
    return (*writer)->Commit();
  }

  testing::TempDir dir_;
  std::unique_ptr<CheckpointStore> store_;
};

TEST_F(CheckpointStoreTest, WritesListsAndReadsBack) {
  ASSERT_OK(Put(3, 2, "weights-at-two"));
  auto files = store_->Files("s", 3, 2);
  ASSERT_OK(files);
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ(ReadFile((*files)[0]), "weights-at-two");
  EXPECT_EQ(std::filesystem::path((*files)[1]).filename(), "state.json");
  auto listed = store_->List();
  ASSERT_OK(listed);
  EXPECT_EQ(listed->at("s").at(3), (std::set<int64_t>{2}));
  EXPECT_THAT(store_->Files("s", 3, 4), StatusIs(absl::StatusCode::kNotFound));
  // A reopened store sees the same.
  auto reopened = CheckpointStore::Open(dir_.File("ckpt"));
  ASSERT_OK(reopened);
  EXPECT_EQ(*(*reopened)->List(), *listed);
}

TEST_F(CheckpointStoreTest, UncommittedWritesLeaveNothing) {
  {
    auto writer = store_->StartWrite("s", 1, 2);
    ASSERT_OK(writer);
    ASSERT_OK((*writer)->Append("model.pt", "half"));
  }
  EXPECT_TRUE(store_->List()->empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir_.File("ckpt/tmp")));
}

TEST_F(CheckpointStoreTest, KeepsTheLatestAndDropsAbandonedLaterSteps) {
  for (int64_t step = 1; step <= kPbtCheckpointsKept + 2; ++step) {
    ASSERT_OK(Put(0, step, "w"));
  }
  auto listed = store_->List();
  ASSERT_OK(listed);
  EXPECT_EQ(listed->at("s").at(0).size(), static_cast<size_t>(kPbtCheckpointsKept));
  EXPECT_EQ(*listed->at("s").at(0).begin(), 3);
  // The trial restarted from an earlier step: its later checkpoints go.
  ASSERT_OK(Put(0, 4, "again"));
  EXPECT_EQ(store_->List()->at("s").at(0), (std::set<int64_t>{3, 4}));
  EXPECT_EQ(ReadFile((*store_->Files("s", 0, 4))[0]), "again");
}

TEST_F(CheckpointStoreTest, RejectsBadInputNamingIt) {
  auto writer = store_->StartWrite("s", 0, 1);
  ASSERT_OK(writer);
  for (const char* name : {"", "..", "a/b", "../x", "sp ace"}) {
    absl::Status status = (*writer)->Append(name, "x");
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument)) << name;
    EXPECT_THAT(status.message(), HasSubstr("chunk.file")) << name;
  }
  const std::string big(kMaxCheckpointChunkBytes + 1, 'x');
  EXPECT_THAT((*writer)->Append("model.pt", big).message(), HasSubstr("chunk.data"));
  ASSERT_OK((*writer)->Append("a.pt", "1"));
  ASSERT_OK((*writer)->Append("b.pt", "2"));
  EXPECT_THAT((*writer)->Append("a.pt", "3").message(), HasSubstr("already sent"));
  EXPECT_THAT(store_->StartWrite("s", -1, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  auto empty = store_->StartWrite("s", 0, 1);
  EXPECT_THAT((*empty)->Commit(), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ExploitStorageTest, SqliteStoresExploitsAndReloadsThem) {
  testing::TempDir dir;
  const std::string path = dir.File("study.db");
  TrialRecord trial;
  trial.study = "pop";
  trial.number = 0;
  trial.params = {{"lr", 0.5}};
  trial.state = TrialState::kRunning;
  trial.exploits = {{2, 1, 2, {{"lr", 0.1}, {"layers", int64_t{3}}, {"opt", std::string("sgd")}}},
                    {4, 3, 4, {{"lr", 0.2}}}};
  {
    auto store = SqliteStudyStore::Open(path);
    ASSERT_OK(store);
    StudyRecord study;
    study.name = "pop";
    study.spec.name = "pop";
    study.source_text = "name: pop";
    ASSERT_OK((*store)->CreateStudy(study));
    ASSERT_OK((*store)->PutTrial(trial));
  }
  auto store = SqliteStudyStore::Open(path);
  ASSERT_OK(store);
  auto loaded = (*store)->LoadAll();
  ASSERT_OK(loaded);
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ(loaded->at(0).trials.at(0).exploits, trial.exploits);
}

TEST(ExploitStorageTest, VersionOneDatabaseGainsEmptyExploits) {
  testing::TempDir dir;
  const std::string path = dir.File("old.db");
  {
    RawDb db(path);
    ASSERT_OK(MigrateSchema(db.get(), VernierMigrations().subspan(0, 1)));
    db.Exec(
        "INSERT INTO studies (name, spec, state, state_reason, create_time_us) "
        "VALUES ('pop', '{name: pop, objective: {metric: loss}, trainer: {command: [a]}, "
        "params: {x: {type: float, low: 0, high: 1}}}', 1, '', 0)");
    db.Exec("INSERT INTO trials VALUES ('pop', 0, '{}', 1, '{}', '', '', 0, 0, 0, 0)");
  }
  {
    auto store = SqliteStudyStore::Open(path);
    ASSERT_OK(store);
    auto loaded = (*store)->LoadAll();
    ASSERT_OK(loaded);
    EXPECT_TRUE(loaded->at(0).trials.at(0).exploits.empty());
  }
  EXPECT_EQ(RawDb(path).QueryInt("PRAGMA user_version"), VernierSchemaVersion());
}

TEST(ExploitStorageTest, CodecRejectsDamagedText) {
  EXPECT_EQ(ExploitsToJson({}), "[]");
  EXPECT_TRUE(ExploitsFromJson("[]")->empty());
  for (const char* text : {"", "{}", "[1]", R"([{"step": 1}])",
                           R"([{"step":1,"donor":2,"donor_step":1,"params_before":{"x":[1]}}])"}) {
    EXPECT_THAT(ExploitsFromJson(text), StatusIs(absl::StatusCode::kDataLoss)) << text;
  }
}

}  // namespace
}  // namespace vernier
