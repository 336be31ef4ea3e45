#include "trainer/report_channel.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier {
namespace {

using ::testing::HasSubstr;

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
    EXPECT_TRUE(channel.WriteFinal({{"test_accuracy", 0.75}}).ok());
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
  EXPECT_EQ(channel.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(channel.WriteFinal({}).ok());
  close(fds[0]);
}

TEST(ReportChannelTest, FromEnvironmentChecksTheDescriptor) {
  EXPECT_TRUE(ReportChannel::FromEnvironment(nullptr, nullptr).ok());  // stdout
  EXPECT_EQ(ReportChannel::FromEnvironment("three", nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReportChannel::FromEnvironment("-1", nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status closed = ReportChannel::FromEnvironment("987", nullptr).status();
  EXPECT_EQ(closed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(closed.message()), HasSubstr("987"));

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EXPECT_EQ(ReportChannel::FromEnvironment(std::to_string(fds[0]).c_str(), nullptr).status().code(),
            absl::StatusCode::kFailedPrecondition);  // Read end.
  EXPECT_TRUE(ReportChannel::FromEnvironment(std::to_string(fds[1]).c_str(), nullptr).ok());
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace vernier
