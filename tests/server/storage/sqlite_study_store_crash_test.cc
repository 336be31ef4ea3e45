// Durability across kill -9: a child process writes through the store and
// reports each acknowledged call on a pipe; the parent kills it at a random
// moment, reopens the file and checks that every acknowledged change is there
// and that what is there is exactly the child's work up to the kill (all
// acknowledged calls, plus at most the one in flight).
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/storage/sqlite_study_store.h"
#include "tests/server/storage/sqlite_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace vernier {
namespace {

constexpr int kTrialsPerRound = 30;
constexpr int kStepsPerTrial = 3;
// Op 0 creates the study; then each trial is one PutTrial and its steps.
constexpr int kOpsPerRound = 1 + kTrialsPerRound * (1 + kStepsPerTrial);

struct Op {
  enum Kind { kCreateStudy, kPutTrial, kAddMeasurement };
  Kind kind;
  int64_t trial = 0;
  int64_t step = 0;
};

Op OpAt(int index) {
  if (index == 0) return Op{Op::kCreateStudy};
  const int k = index - 1;
  const int64_t trial = k / (1 + kStepsPerTrial);
  const int within = k % (1 + kStepsPerTrial);
  if (within == 0) return Op{Op::kPutTrial, trial};
  return Op{Op::kAddMeasurement, trial, within - 1};
}

absl::Status Apply(StudyStore& store, const std::string& study, const Op& op) {
  switch (op.kind) {
    case Op::kCreateStudy: {
      StudyRecord record;
      record.name = study;
      record.spec.name = study;
      record.source_text = "crash test";
      return store.CreateStudy(record);
    }
    case Op::kPutTrial: {
      TrialRecord trial;
      trial.study = study;
      trial.number = op.trial;
      trial.params = {{"x", static_cast<double>(op.trial) / 7}};
      return store.PutTrial(trial);
    }
    case Op::kAddMeasurement:
      return store.AddMeasurement(study, op.trial, Measurement{op.step, {{"y", 0.5}}});
  }
  return absl::InternalError("unknown op");
}

// The child: performs the round's ops in order and acknowledges each one on
// `ack_fd` as soon as the store has returned OK; then waits to be killed.
[[noreturn]] void RunChild(const std::string& path, const std::string& study,
                           SqliteStudyStore::Options options, int ack_fd) {
  absl::StatusOr<std::unique_ptr<SqliteStudyStore>> store = SqliteStudyStore::Open(path, options);
  if (!store.ok()) _exit(2);
  for (uint32_t index = 0; index < kOpsPerRound; ++index) {
    if (!Apply(**store, study, OpAt(static_cast<int>(index))).ok()) _exit(3);
    if (write(ack_fd, &index, sizeof(index)) != sizeof(index)) _exit(4);
  }
  while (true) pause();
}

// Reads one acknowledgement; false at end of file.
bool ReadAck(int fd, uint32_t* ack) {
  size_t got = 0;
  auto* bytes = reinterpret_cast<char*>(ack);
  while (got < sizeof(*ack)) {
    const ssize_t n = read(fd, bytes + got, sizeof(*ack) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

// Which of the round's ops the stored data shows as done.
std::vector<bool> DoneOps(const std::vector<StoredStudy>& all, const std::string& study) {
  std::vector<bool> done(kOpsPerRound, false);
  for (const StoredStudy& stored : all) {
    if (stored.study.name != study) continue;
    done[0] = true;
    for (const TrialRecord& trial : stored.trials) {
      const int64_t base = 1 + trial.number * (1 + kStepsPerTrial);
      if (trial.number < 0 || trial.number >= kTrialsPerRound) continue;
      done[base] = true;
      for (const Measurement& m : trial.intermediate) {
        if (m.step >= 0 && m.step < kStepsPerTrial) done[base + 1 + m.step] = true;
      }
    }
  }
  return done;
}

// Number of leading done ops; -1 when a later op is done too (not a prefix).
int DonePrefix(const std::vector<bool>& done) {
  int prefix = 0;
  while (prefix < static_cast<int>(done.size()) && done[prefix]) ++prefix;
  for (size_t i = prefix; i < done.size(); ++i) {
    if (done[i]) return -1;
  }
  return prefix;
}

TEST(SqliteStudyStoreCrashTest, EveryAcknowledgedWriteSurvivesKill9) {
  testing::TempDir dir;
  const std::string path = dir.File("crash.db");
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("seed ", seed));
  std::mt19937 rng(seed);
  std::vector<int> kept_by_round;

  for (int round = 0; round < 6; ++round) {
    const std::string study = absl::StrCat("round-", round);
    SqliteStudyStore::Options options;
    // kill -9 loses nothing the OS has been given, so NORMAL must pass too.
    options.sync = round % 2 == 0 ? SqliteStudyStore::Options::Sync::kFull
                                  : SqliteStudyStore::Options::Sync::kNormal;
    const int kill_after = std::uniform_int_distribution<int>(1, kOpsPerRound)(rng);
    SCOPED_TRACE(absl::StrCat("round ", round, ", kill after ack ", kill_after));

    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RunChild(path, study, options, fds[1]);
    }
    close(fds[1]);
    int acked = 0;
    uint32_t ack = 0;
    // No ASSERT until the child is reaped: it must never outlive the test.
    while (acked < kill_after && ReadAck(fds[0], &ack)) {
      EXPECT_EQ(ack, static_cast<uint32_t>(acked));
      ++acked;
    }
    kill(pid, SIGKILL);
    int wait_status = 0;
    ASSERT_EQ(waitpid(pid, &wait_status, 0), pid);
    // Died of our signal, not of a failed call.
    ASSERT_TRUE(WIFSIGNALED(wait_status)) << "child exit status " << WEXITSTATUS(wait_status);
    // Acknowledgements already in the pipe count too.
    while (ReadAck(fds[0], &ack)) {
      ASSERT_EQ(ack, static_cast<uint32_t>(acked));
      ++acked;
    }
    close(fds[0]);

    absl::StatusOr<std::unique_ptr<SqliteStudyStore>> store = SqliteStudyStore::Open(path);
    ASSERT_OK(store);
    absl::StatusOr<std::vector<StoredStudy>> loaded = (*store)->LoadAll();
    ASSERT_OK(loaded);
    const int kept = DonePrefix(DoneOps(*loaded, study));
    EXPECT_GE(kept, acked) << "an acknowledged write was lost";
    EXPECT_LE(kept, acked + 1) << "more than the call in flight appeared";
    kept_by_round.push_back(kept);
    for (int earlier = 0; earlier < round; ++earlier) {
      EXPECT_EQ(DonePrefix(DoneOps(*loaded, absl::StrCat("round-", earlier))),
                kept_by_round[earlier])
          << "round " << earlier << " changed";
    }
  }
  EXPECT_EQ(RawDb(path).QueryText("PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace vernier
