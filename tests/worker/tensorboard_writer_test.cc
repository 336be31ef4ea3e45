// Unit tier: CRC32C, TFRecord framing, and the event files TensorBoardWriter
// and TrialTensorBoard write, read back frame by frame and event by event.
#include "worker/tensorboard_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tensorboard/event.pb.h"
#include "tests/testing/temp_dir.h"
#include "tests/worker/test_util.h"

namespace vernier::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatEq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::StartsWith;

// The events of the file at `path`; fails the test on a bad frame.
std::vector<tensorboard::Event> ReadEvents(const std::string& path) {
  absl::StatusOr<std::vector<std::string>> records = ReadTfRecords(test_util::ReadFile(path));
  EXPECT_TRUE(records.ok()) << records.status();
  std::vector<tensorboard::Event> events;
  if (!records.ok()) return events;
  for (const std::string& record : *records) {
    tensorboard::Event event;
    EXPECT_TRUE(event.ParseFromString(record));
    events.push_back(std::move(event));
  }
  return events;
}

// The only event file under `dir`, or "" (with a failure).
std::string OnlyEventFile(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (absl::StrContains(entry.path().filename().string(), "tfevents")) {
      found.push_back(entry.path().string());
    }
  }
  EXPECT_THAT(found, SizeIs(1)) << dir;
  return found.size() == 1 ? found[0] : "";
}

// (tag, value) of a summary event's scalars.
std::vector<std::pair<std::string, float>> Scalars(const tensorboard::Event& event) {
  std::vector<std::pair<std::string, float>> scalars;
  for (const tensorboard::Summary::Value& value : event.summary().value()) {
    scalars.emplace_back(value.tag(), value.simple_value());
  }
  return scalars;
}

TEST(Crc32cTest, MatchesKnownVectors) {
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32c("a"), 0xC1D04330u);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  // RFC 3720 (iSCSI), B.4.
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
}

TEST(Crc32cTest, MaskRotatesAndAddsTheDelta) {
  const uint32_t crc = 0xE3069283u;
  EXPECT_EQ(MaskedCrc32c("123456789"), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST(TfRecordTest, FrameIsLengthCrcDataCrcLittleEndian) {
  const std::string frame = TfRecordFrame("abc");
  ASSERT_EQ(frame.size(), 8u + 4u + 3u + 4u);
  EXPECT_EQ(frame.substr(0, 8), std::string("\x03\0\0\0\0\0\0\0", 8));
  const uint32_t length_crc = MaskedCrc32c(frame.substr(0, 8));
  std::string length_crc_bytes;
  for (int i = 0; i < 4; ++i) length_crc_bytes.push_back(static_cast<char>(length_crc >> (8 * i)));
  EXPECT_EQ(frame.substr(8, 4), length_crc_bytes);
  EXPECT_EQ(frame.substr(12, 3), "abc");
  const uint32_t data_crc = MaskedCrc32c("abc");
  std::string data_crc_bytes;
  for (int i = 0; i < 4; ++i) data_crc_bytes.push_back(static_cast<char>(data_crc >> (8 * i)));
  EXPECT_EQ(frame.substr(15, 4), data_crc_bytes);
}

TEST(TfRecordTest, ReadsBackWhatWasFramed) {
  const std::string contents =
      TfRecordFrame("first") + TfRecordFrame("") + TfRecordFrame(std::string(1000, 'x'));
  absl::StatusOr<std::vector<std::string>> records = ReadTfRecords(contents);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_THAT(*records, ElementsAre("first", "", std::string(1000, 'x')));
}

TEST(TfRecordTest, CorruptOrCutShortFramesAreDataLossNamingTheRecord) {
  const std::string good = TfRecordFrame("one") + TfRecordFrame("two");
  std::string bad_data = good;
  bad_data[19 + 12] ^= 1;  // A byte of "two".
  EXPECT_EQ(ReadTfRecords(bad_data).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(ReadTfRecords(bad_data).status().message(), HasSubstr("record 1: data CRC"));
  std::string bad_length = good;
  bad_length[0] = 4;
  EXPECT_THAT(ReadTfRecords(bad_length).status().message(), HasSubstr("record 0: length CRC"));
  EXPECT_THAT(ReadTfRecords(good.substr(0, good.size() - 1)).status().message(),
              HasSubstr("record 1: data cut short"));
}

TEST(TensorBoardWriterTest, WritesTheFileVersionThenScalarEvents) {
  ::vernier::testing::TempDir temp;
  const std::string dir = temp.File("a/b");
  const absl::Time now = absl::FromUnixSeconds(1700000000) + absl::Milliseconds(250);
  absl::StatusOr<std::unique_ptr<TensorBoardWriter>> writer = TensorBoardWriter::Open(dir, now);
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_THAT((*writer)->path(), StartsWith(absl::StrCat(dir, "/events.out.tfevents.1700000000.")));
  EXPECT_TRUE(absl::EndsWith((*writer)->path(), absl::StrCat(".", getpid())));
  ASSERT_TRUE((*writer)->WriteScalars(3, {{"loss", 0.5}, {"acc", 0.25}}, now).ok());
  ASSERT_TRUE((*writer)->WriteScalars(4, {}, now).ok());  // Nothing to write.
  ASSERT_TRUE((*writer)->WriteScalars(4, {{"loss", 0.125}}, now, "final/").ok());

  std::vector<tensorboard::Event> events = ReadEvents((*writer)->path());
  ASSERT_THAT(events, SizeIs(3));
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_DOUBLE_EQ(events[0].wall_time(), 1700000000.25);
  EXPECT_EQ(events[1].step(), 3);
  EXPECT_THAT(Scalars(events[1]), ElementsAre(Pair("acc", 0.25f), Pair("loss", 0.5f)));
  EXPECT_EQ(events[2].step(), 4);
  EXPECT_THAT(Scalars(events[2]), ElementsAre(Pair("final/loss", 0.125f)));
}

TEST(TensorBoardWriterTest, NeverOverwritesAnEventFileOfTheSameName) {
  ::vernier::testing::TempDir temp;
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  auto first = TensorBoardWriter::Open(temp.path(), now);
  auto second = TensorBoardWriter::Open(temp.path(), now);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ((*second)->path(), (*first)->path() + ".1");
  EXPECT_THAT(ReadEvents((*first)->path()), SizeIs(1));
}

TEST(TensorBoardWriterTest, AnUncreatableDirectoryIsAnError) {
  ::vernier::testing::TempDir temp;
  const std::string file = temp.Write("file", "not a directory");
  EXPECT_FALSE(TensorBoardWriter::Open(file + "/sub", absl::Now()).ok());
}

v1::AcquireTrialResponse Acquired(const std::string& tensorboard_dir) {
  v1::AcquireTrialResponse acquired;
  acquired.mutable_lease()->set_study("mnist");
  acquired.mutable_lease()->set_trial_number(7);
  acquired.mutable_lease()->set_attempt(1);
  auto& params = *acquired.mutable_trial()->mutable_params();
  params["lr"].set_double_value(0.01);
  params["layers"].set_int_value(3);
  params["optimizer"].set_string_value("adam");
  acquired.set_tensorboard_dir(tensorboard_dir);
  return acquired;
}

TEST(TrialTensorBoardTest, WritesParamsCurvesAndFinalMetricsOfTheTrial) {
  ::vernier::testing::TempDir temp;
  std::vector<std::string> logs;
  TrialTensorBoard tensorboard(Acquired(temp.path()),
                               [&](absl::string_view line) { logs.emplace_back(line); });
  tensorboard.Report(1, {{"loss", 0.9}});
  tensorboard.Report(2, {{"loss", 0.4}, {"acc", 0.7}});
  tensorboard.Final({{"loss", 0.3}});
  EXPECT_THAT(logs, IsEmpty());

  const std::string trial_dir = temp.File("mnist/trial-7");
  EXPECT_EQ(tensorboard.path(), OnlyEventFile(trial_dir));
  std::vector<tensorboard::Event> events = ReadEvents(tensorboard.path());
  ASSERT_THAT(events, SizeIs(5));
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_EQ(events[1].step(), 0);  // Numeric parameters; the categorical one is not a scalar.
  EXPECT_THAT(Scalars(events[1]),
              ElementsAre(Pair("params/layers", 3.0f), Pair("params/lr", 0.01f)));
  EXPECT_EQ(events[2].step(), 1);
  EXPECT_THAT(Scalars(events[2]), ElementsAre(Pair("loss", 0.9f)));
  EXPECT_EQ(events[3].step(), 2);
  EXPECT_THAT(Scalars(events[3]), ElementsAre(Pair("acc", 0.7f), Pair("loss", 0.4f)));
  EXPECT_EQ(events[4].step(), 2);  // The last reported step.
  EXPECT_THAT(Scalars(events[4]), ElementsAre(Pair("final/loss", 0.3f)));

  const nlohmann::json params =
      nlohmann::json::parse(test_util::ReadFile(trial_dir + "/params.json"));
  EXPECT_EQ(params, nlohmann::json({{"layers", 3}, {"lr", 0.01}, {"optimizer", "adam"}}));
}

TEST(TrialTensorBoardTest, WithoutADirectoryItDoesNothing) {
  std::vector<std::string> logs;
  TrialTensorBoard tensorboard(Acquired(""),
                               [&](absl::string_view line) { logs.emplace_back(line); });
  tensorboard.Report(1, {{"loss", 0.9}});
  tensorboard.Final({{"loss", 0.3}});
  EXPECT_EQ(tensorboard.path(), "");
  EXPECT_THAT(logs, IsEmpty());
}

TEST(TrialTensorBoardTest, AFailureIsLoggedOnceAndTrackingStops) {
  ::vernier::testing::TempDir temp;
  const std::string file = temp.Write("file", "not a directory");
  std::vector<std::string> logs;
  TrialTensorBoard tensorboard(Acquired(file),
                               [&](absl::string_view line) { logs.emplace_back(line); });
  tensorboard.Report(1, {{"loss", 0.9}});
  tensorboard.Final({{"loss", 0.3}});
  EXPECT_EQ(tensorboard.path(), "");
  ASSERT_THAT(logs, SizeIs(1));
  EXPECT_THAT(logs[0], HasSubstr("trial mnist#7: TensorBoard tracking stopped"));
  EXPECT_THAT(logs[0], HasSubstr(file));
}

}  // namespace
}  // namespace vernier::worker
