// End-to-end tests of the vernier-train binary (path from CMake in
// VERNIER_TRAIN_PATH): real child processes on tiny generated data.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/builtin_trainer.h"
#include "common/trial_protocol.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/trainer/test_data.h"

extern char** environ;

namespace vernier {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal or not started.
  std::string out;
  std::string err;
  std::string reports;  // What the child wrote to descriptor 3.
};

using ::vernier::testing::ReadFile;

class VernierTrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFashionMnistFiles(dir_.path(), testing::MakeTinyImages(300, 1),
                                    testing::MakeTinyImages(100, 2), /*gzip=*/true);
  }

  // Writes `params` as a JSON file and returns its path.
  std::string WriteParams(const nlohmann::json& params) {
    const std::string path = dir_.File("params.json");
    const std::string text = params.dump();
    testing::WriteFile(path, std::vector<uint8_t>(text.begin(), text.end()), false);
    return path;
  }

  // Runs vernier-train with `args` and the test's environment minus any
  // VERNIER_* variable, plus `env`. Descriptors 1, 2 and 3 go to files.
  ProcessResult Run(const std::vector<std::string>& args, const std::vector<std::string>& env) {
    std::vector<std::string> argv_text = {VERNIER_TRAIN_PATH};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<std::string> env_text;
    for (char** var = environ; *var != nullptr; ++var) {
      if (!absl::StartsWith(*var, "VERNIER_")) env_text.push_back(*var);
    }
    env_text.insert(env_text.end(), env.begin(), env.end());

    const std::string out = dir_.File("stdout"), err = dir_.File("stderr"),
                      reports = dir_.File("reports");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 3, reports.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    pid_t pid = 0;
    const int spawn_error = posix_spawn(&pid, argv_text[0].c_str(), &actions, nullptr,
                                        Pointers(argv_text).data(), Pointers(env_text).data());
    posix_spawn_file_actions_destroy(&actions);
    ProcessResult result;
    if (spawn_error != 0) {
      ADD_FAILURE() << "cannot start " << argv_text[0] << ": " << spawn_error;
      return result;
    }
    int wait_status = 0;
    EXPECT_EQ(waitpid(pid, &wait_status, 0), pid);
    if (WIFEXITED(wait_status)) result.exit_code = WEXITSTATUS(wait_status);
    result.out = ReadFile(out);
    result.err = ReadFile(err);
    result.reports = ReadFile(reports);
    return result;
  }

  static std::vector<char*> Pointers(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (std::string& s : strings) pointers.push_back(s.data());
    pointers.push_back(nullptr);
    return pointers;
  }

  nlohmann::json TinyParams() const {
    return {{"data_dir", dir_.path()}, {"epochs", 2},         {"batch_size", 32},   {"lr", 0.003},
            {"num_threads", 1},        {"optimizer", "adam"}, {"cache_dir", "none"}};
  }

  testing::TempDir dir_;
};

// Returns the parsed report lines of `text`; fails the test on a bad line.
std::vector<TrialReport> ParseReports(const std::string& text) {
  std::vector<TrialReport> reports;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    absl::StatusOr<TrialReport> report = ParseReportLine(line);
    EXPECT_OK(report);
    if (report.ok()) reports.push_back(*report);
  }
  return reports;
}

void ExpectTwoEpochsAndAFinalReport(const std::vector<TrialReport>& reports) {
  ASSERT_EQ(reports.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_FALSE(reports[i].is_final);
    EXPECT_EQ(reports[i].step, i + 1);
    EXPECT_EQ(reports[i].metrics.size(), 5u);
    for (const char* name :
         {"val_accuracy", "val_loss", "val_precision_macro", "val_recall_macro", "val_f1_macro"}) {
      EXPECT_EQ(reports[i].metrics.count(name), 1u) << name;
    }
  }
  const TrialReport& final_report = reports[2];
  EXPECT_TRUE(final_report.is_final);
  for (const char* name : {"val_accuracy", "val_loss", "test_accuracy", "test_loss"}) {
    EXPECT_EQ(final_report.metrics.count(name), 1u) << name;
  }
  EXPECT_EQ(final_report.metrics.at("val_accuracy"), reports[1].metrics.at("val_accuracy"));
}

TEST_F(VernierTrainTest, ReportsEachEpochAndTheFinalResultOnTheReportFd) {
  ProcessResult result =
      Run({"--params", WriteParams(TinyParams())}, {"VERNIER_REPORT_FD=3", "VERNIER_DEVICE=cpu"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  ExpectTwoEpochsAndAFinalReport(ParseReports(result.reports));
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_THAT(result.err, HasSubstr("epoch 2/2"));
  EXPECT_THAT(result.err,
              HasSubstr("test confusion matrix (rows: true class, columns: predicted)"));
}

TEST_F(VernierTrainTest, ReadsParamsFromTheEnvironmentAndReportsOnStdoutByDefault) {
  ProcessResult result =
      Run({}, {"VERNIER_PARAMS_FILE=" + WriteParams(TinyParams()), "VERNIER_DEVICE=cpu"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  ExpectTwoEpochsAndAFinalReport(ParseReports(result.out));
  EXPECT_THAT(result.reports, IsEmpty());
}

TEST_F(VernierTrainTest, BadDataDirFailsNamingTheFile) {
  nlohmann::json params = TinyParams();
  params["data_dir"] = dir_.File("no-such-dir");
  ProcessResult result = Run({"--params=" + WriteParams(params)}, {"VERNIER_REPORT_FD=3"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("vernier-train: "));
  EXPECT_THAT(result.err, HasSubstr(dir_.File("no-such-dir/train-images-idx3-ubyte")));
  EXPECT_THAT(result.reports, IsEmpty());
}

TEST_F(VernierTrainTest, UnknownParameterFailsNamingIt) {
  nlohmann::json params = TinyParams();
  params["learning_rate"] = 0.1;
  ProcessResult result = Run({"--params", WriteParams(params)}, {});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("\"learning_rate\""));
  EXPECT_THAT(result.out, IsEmpty());
}

TEST_F(VernierTrainTest, MissingParamsAndBadFlagsAreUsageErrors) {
  ProcessResult no_params = Run({}, {});
  EXPECT_EQ(no_params.exit_code, 1);
  EXPECT_THAT(no_params.err, HasSubstr("--params"));
  ProcessResult bad_flag = Run({"--epochs", "3"}, {});
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_THAT(bad_flag.err, HasSubstr("--epochs"));
}

TEST_F(VernierTrainTest, PredictFlagsAreCheckedAndErrorsNameTheFile) {
  ProcessResult no_input = Run({"--predict", dir_.path()}, {});
  EXPECT_EQ(no_input.exit_code, 2);
  EXPECT_THAT(no_input.err, HasSubstr("--input"));
  ProcessResult stray = Run({"--params", "p.json", "--evaluate"}, {});
  EXPECT_EQ(stray.exit_code, 2);
  EXPECT_THAT(stray.err, HasSubstr("go with --predict"));
  ProcessResult no_manifest =
      Run({"--predict", dir_.File("none"), "--input", dir_.File("in.csv")}, {});
  EXPECT_EQ(no_manifest.exit_code, 1);
  EXPECT_THAT(no_manifest.err, HasSubstr(dir_.File("none/manifest.json")));
  EXPECT_THAT(no_manifest.out, IsEmpty());
}

TEST_F(VernierTrainTest, HelpListsEveryParameter) {
  ProcessResult result = Run({"--help"}, {});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const BuiltinParam& param : BuiltinTrainerParams()) {
    EXPECT_THAT(result.out, HasSubstr("  " + param.name + " ")) << param.name;
    EXPECT_THAT(result.out, HasSubstr(param.help)) << param.name;
  }
}

}  // namespace
}  // namespace vernier
