// End-to-end tier of artifacts: vernier-server, vernier-worker and a Python
// trial program that leaves files in $VERNIER_ARTIFACT_DIR. The worker
// uploads them through the server; `vernier artifacts list` and `get` bring
// them back, checksums verified; retention deletes the files of trials that
// fell out of the best; a trial over artifacts.max_bytes, or with a path
// that is not allowed, fails naming why.
#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/process_util.h"

namespace vernier {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ReadFile;
using testing::VernierProcessTest;
using testing::WriteFile;

constexpr absl::Duration kPatience = absl::Seconds(90);

// Reports acc = x. Leaves model/weights.bin (1.5 MiB, so it crosses chunk
// boundaries; its bytes depend on the trial number), notes.txt, a symbolic
// link to a file outside (never sent) and, when asked, a large file or a
// file with a space in its name.
constexpr char kTrial[] = R"(import json, os, sys
params = json.load(open(os.environ["VERNIER_PARAMS_FILE"]))
out = os.environ["VERNIER_ARTIFACT_DIR"]
trial = int(os.environ["VERNIER_TRIAL"])
os.makedirs(os.path.join(out, "model"))
block = bytes((trial * 31 + i) % 256 for i in range(256))
with open(os.path.join(out, "model", "weights.bin"), "wb") as f:
    f.write(block * (6 * 1024))
with open(os.path.join(out, "notes.txt"), "w") as f:
    f.write("trial %d x=%r\n" % (trial, params["x"]))
os.symlink("/etc/hostname", os.path.join(out, "outside-link"))
if params.get("extra") == "big":
    with open(os.path.join(out, "big.bin"), "wb") as f:
        f.write(b"\0" * 4096)
if params.get("extra") == "badname":
    open(os.path.join(out, "my notes.txt"), "w").close()
report = os.fdopen(int(os.environ["VERNIER_REPORT_FD"]), "w", buffering=1)
print(json.dumps({"final": True, "metrics": {"acc": params["x"]}}), file=report)
)";

// What kTrial writes as model/weights.bin for trial `trial`.
std::string Weights(int trial) {
  std::string block(256, '\0');
  for (int i = 0; i < 256; ++i) block[i] = static_cast<char>((trial * 31 + i) % 256);
  std::string weights;
  for (int i = 0; i < 6 * 1024; ++i) weights += block;
  return weights;
}

class ArtifactsEndToEndTest : public VernierProcessTest {
 protected:
  bool CreateArtifactStudy(const std::string& name, int trials, const std::string& artifacts,
                           const std::string& extra = "none") {
    WriteFile(dir_ / "trial.py", kTrial);
    return CreateStudy(absl::StrCat("name: ", name, R"(
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0, high: 1}
  extra: {type: categorical, values: [)",
                                    extra, R"(]}
sampler: {type: random, seed: 7}
budget: {max_trials: )",
                                    trials, R"(, max_failures: 10}
trainer: {command: [python3, ")",
                                    (dir_ / "trial.py").string(), "\"]}\n", artifacts, "\n"));
  }

  json Trials(const std::string& study) { return CliJson({"trials", study}); }
};

TEST_F(ArtifactsEndToEndTest, TheBestTrialsFilesComeBackVerifiedAndTheOthersAreDeleted) {
  ASSERT_TRUE(StartServer(/*lease_seconds=*/30));
  ASSERT_TRUE(CreateArtifactStudy("art", 4, "artifacts: {keep: best, count: 2}"));
  StartWorker("w");
  ASSERT_TRUE(WaitForStudyEnd("art", kPatience)) << Logs();

  // The two best trials by acc, best first.
  const json trials = Trials("art");
  ASSERT_TRUE(trials.is_array() && trials.size() == 4) << trials.dump() << Logs();
  std::vector<std::pair<double, int>> ranked;
  for (const json& trial : trials) {
    ASSERT_EQ(trial["state"], "COMPLETE") << trial.dump() << Logs();
    ranked.emplace_back(trial["final_metrics"]["acc"].get<double>(), trial["number"].get<int>());
  }
  std::sort(ranked.rbegin(), ranked.rend());
  const int best = ranked[0].second;
  const int second = ranked[1].second;

  // Only those two trials' files are left, on the listing and on disk; the
  // symbolic link was never sent.
  const json listed = CliJson({"artifacts", "list", "art"});
  ASSERT_TRUE(listed.is_array()) << Logs();
  std::set<int> kept;
  for (const json& file : listed) {
    kept.insert(file["trial"].get<int>());
    EXPECT_NE(file["path"], "outside-link");
  }
  EXPECT_EQ(kept, (std::set<int>{best, second})) << listed.dump();
  EXPECT_EQ(listed.size(), 4u) << listed.dump();
  for (const auto& [acc, number] : ranked) {
    EXPECT_EQ(std::filesystem::exists(dir_ / "vernier.db.artifacts" / "study-art" /
                                      absl::StrCat("trial-", number)),
              number == best || number == second)
        << number;
  }
  const testing::CliResult table = Cli({"artifacts", "list", "art", absl::StrCat(best)});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("model/weights.bin"));
  EXPECT_THAT(table.out, HasSubstr(Sha256Hex(Weights(best))));

  // `get --best`: the bytes the trial wrote, checked against the listing.
  const testing::CliResult got =
      Cli({"artifacts", "get", "art", "--best", "-o", (dir_ / "best").string()});
  ASSERT_EQ(got.exit_code, 0) << got.err << Logs();
  EXPECT_THAT(got.out, HasSubstr(absl::StrCat("trial ", best, ": 2 files")));
  EXPECT_EQ(ReadFile(dir_ / "best" / "model" / "weights.bin"), Weights(best));
  EXPECT_THAT(ReadFile(dir_ / "best" / "notes.txt"), HasSubstr(absl::StrCat("trial ", best)));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "best" / "outside-link"));

  // A trial retention deleted, and a study with no refit yet, say so.
  const testing::CliResult gone =
      Cli({"artifacts", "get", "art", absl::StrCat(ranked[3].second), "-o", (dir_ / "x").string()});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_THAT(gone.err, HasSubstr("no stored artifacts"));
  const testing::CliResult final_model =
      Cli({"artifacts", "get", "art", "--final", "-o", (dir_ / "final").string()});
  EXPECT_EQ(final_model.exit_code, 1);
  EXPECT_THAT(final_model.err, HasSubstr("vernier refit art"));
  const testing::CliResult both =
      Cli({"artifacts", "get", "art", "1", "--best", "-o", (dir_ / "y").string()});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_THAT(both.err, HasSubstr("exactly one of TRIAL, --best and --final"));
}

TEST_F(ArtifactsEndToEndTest, ATrialOverTheLimitOrWithABadPathFailsSayingWhy) {
  ASSERT_TRUE(StartServer(/*lease_seconds=*/30));
  ASSERT_TRUE(CreateArtifactStudy("big", 1, "artifacts: {keep: all, max_bytes: 1000000}", "big"));
  StartWorker("w");
  ASSERT_TRUE(WaitForStudyEnd("big", kPatience)) << Logs();
  json trials = Trials("big");
  ASSERT_TRUE(trials.is_array() && trials.size() == 1) << Logs();
  EXPECT_EQ(trials[0]["state"], "FAILED");
  const std::string reason = trials[0]["failure_reason"].get<std::string>();
  EXPECT_THAT(reason, HasSubstr("the trial left "));
  EXPECT_THAT(reason, HasSubstr("over the study's limit of 1000000 bytes (artifacts.max_bytes)"));
  const json listed = CliJson({"artifacts", "list", "big"});
  EXPECT_TRUE(listed.is_array() && listed.empty()) << listed.dump();

  ASSERT_TRUE(CreateArtifactStudy("names", 1, "artifacts: {keep: all}", "badname"));
  ASSERT_TRUE(WaitForStudyEnd("names", kPatience)) << Logs();
  trials = Trials("names");
  ASSERT_TRUE(trials.is_array() && trials.size() == 1) << Logs();
  EXPECT_EQ(trials[0]["state"], "FAILED");
  EXPECT_THAT(trials[0]["failure_reason"].get<std::string>(),
              HasSubstr("\"my notes.txt\" is not a valid artifact path"));
  EXPECT_THAT(ReadFile(dir_ / "w.log"), Not(HasSubstr("bytes uploaded")));
}

}  // namespace
}  // namespace vernier
