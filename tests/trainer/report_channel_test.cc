#include "trainer/report_channel.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vernier::testing::IsOk;
using ::vernier::testing::StatusIs;

// Returns what is readable from `fd` now (the write end must be closed).
std::string ReadAll(int fd) {
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) out.append(buffer, static_cast<size_t>(n));
  return out;
}

TEST(ReportChannelTest, WritesOneLinePerEpochAndAFinalLine) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    ReportChannel channel(fds[1], /*log=*/nullptr);
    EpochSummary summary;
    summary.epoch = 1;
    summary.num_epochs = 2;
    summary.val_metrics = {{"val_accuracy", 0.5}, {"val_loss", 1.25}};
    EXPECT_TRUE(channel.OnEpoch(summary));
    EXPECT_OK(channel.WriteFinal({{"test_accuracy", 0.75}}));
  }
  close(fds[1]);
  const std::string text = ReadAll(fds[0]);
  close(fds[0]);
  EXPECT_EQ(text, FormatIntermediateReport(1, {{"val_accuracy", 0.5}, {"val_loss", 1.25}}) + "\n" +
                      FormatFinalReport({{"test_accuracy", 0.75}}) + "\n");
}

TEST(ReportChannelTest, FailedWriteAsksToStopAndIsReported) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[1]);  // Writing to a closed descriptor fails with EBADF.
  ReportChannel channel(fds[1], nullptr);
  EXPECT_FALSE(channel.OnEpoch(EpochSummary{}));
  EXPECT_THAT(channel.status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(channel.WriteFinal({}), Not(IsOk()));
  close(fds[0]);
}

TEST(ReportChannelTest, FromEnvironmentChecksTheDescriptor) {
  EXPECT_OK(ReportChannel::FromEnvironment(nullptr, nullptr));  // stdout
  EXPECT_THAT(ReportChannel::FromEnvironment("three", nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReportChannel::FromEnvironment("-1", nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  absl::Status closed = ReportChannel::FromEnvironment("987", nullptr).status();
  EXPECT_THAT(closed, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(closed.message()), HasSubstr("987"));

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_THAT(ReportChannel::FromEnvironment(std::to_string(fds[0]).c_str(), nullptr),
              StatusIs(absl::StatusCode::kFailedPrecondition));  // Read end.
  EXPECT_OK(ReportChannel::FromEnvironment(std::to_string(fds[1]).c_str(), nullptr));
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace vernier
