// Artifacts over real gRPC on loopback: uploads by the worker's own code,
// checked against the lease, the paths and the study's limit; listings and
// downloads; retention after each trial ends; and the CLI commands, against
// the same server (and a mock stub for what a sound server never sends).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "client/artifacts.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "grpcpp/test/mock_stream.h"
#include "gtest/gtest.h"
#include "tests/server/service/in_process_server.h"
#include "tests/testing/service_mocks.h"
#include "tests/testing/temp_dir.h"
#include "worker/artifact_upload.h"

namespace vernier {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::Return;

// Two trials at once, each ending COMPLETE with the `acc` the test gives.
std::string StudyYaml(const std::string& name, const std::string& artifacts) {
  return "name: " + name + R"(
objective: {metric: acc, goal: maximize}
params:
  x: {type: float, low: 0, high: 1}
budget: {max_trials: 4, parallel: 2}
trainer: {command: [/bin/true]}
)" + artifacts +
         "\n";
}

using ::vernier::testing::ReadFile;

class ArtifactServiceTest : public InProcessServerTest {
 protected:
  void Create(const std::string& yaml) {
    grpc::ClientContext context;
    v1::CreateStudyRequest request;
    request.set_spec_yaml(yaml);
    v1::Study study;
    const grpc::Status status = studies_->CreateStudy(&context, request, &study);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  v1::AcquireTrialResponse Acquire() {
    grpc::ClientContext context;
    v1::AcquireTrialRequest request;
    request.set_worker_id("w");
    request.set_slot("cpu");
    v1::AcquireTrialResponse response;
    EXPECT_TRUE(workers_->AcquireTrial(&context, request, &response).ok());
    EXPECT_TRUE(response.has_lease());
    return response;
  }

  grpc::Status Complete(const v1::TrialLease& lease, double acc) {
    grpc::ClientContext context;
    v1::CompleteTrialRequest request;
    request.set_worker_id("w");
    *request.mutable_lease() = lease;
    request.set_state(v1::TRIAL_STATE_COMPLETE);
    (*request.mutable_final_metrics())["acc"] = acc;
    v1::CompleteTrialResponse response;
    return workers_->CompleteTrial(&context, request, &response);
  }

  // Writes `files` (path -> contents) under a fresh directory and uploads
  // them as the worker does.
  grpc::Status Upload(const v1::TrialLease& lease, const std::map<std::string, std::string>& files,
                      const std::string& worker_id = "w") {
    const std::filesystem::path dir = dir_ / ("upload-" + std::to_string(uploads_++));
    for (const auto& [path, contents] : files) {
      std::filesystem::create_directories((dir / path).parent_path());
      std::ofstream(dir / path, std::ios::binary) << contents;
    }
    std::filesystem::create_directories(dir);
    absl::StatusOr<worker::ArtifactScan> scan = worker::ScanArtifacts(dir.string());
    EXPECT_TRUE(scan.ok()) << scan.status();
    grpc::ClientContext context;
    return worker::UploadArtifacts(workers_.get(), &context, worker_id, lease, dir.string(), *scan);
  }

  // A raw upload stream of (path, data) messages.
  grpc::Status UploadRaw(const v1::TrialLease& lease,
                         const std::vector<std::pair<std::string, std::string>>& chunks) {
    grpc::ClientContext context;
    v1::UploadArtifactResponse response;
    auto writer = workers_->UploadArtifact(&context, &response);
    for (const auto& [path, data] : chunks) {
      v1::UploadArtifactRequest message;
      message.set_worker_id("w");
      *message.mutable_lease() = lease;
      message.set_path(path);
      message.set_data(data);
      if (!writer->Write(message)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  absl::StatusOr<std::vector<v1::ArtifactFile>> List(const std::string& study,
                                                     std::optional<int64_t> trial) {
    grpc::ClientContext context;
    v1::ListArtifactsRequest request;
    request.set_study(study);
    if (trial) request.set_trial(*trial);
    v1::ListArtifactsResponse response;
    const grpc::Status status = studies_->ListArtifacts(&context, request, &response);
    if (!status.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          status.error_message());
    }
    return std::vector<v1::ArtifactFile>(response.files().begin(), response.files().end());
  }

  std::vector<std::string> Paths(const std::string& study, std::optional<int64_t> trial) {
    std::vector<std::string> paths;
    absl::StatusOr<std::vector<v1::ArtifactFile>> files = List(study, trial);
    EXPECT_TRUE(files.ok()) << files.status();
    for (const v1::ArtifactFile& file : *files) {
      paths.push_back(absl::StrCat(file.trial(), ":", file.path()));
    }
    return paths;
  }

  CommandContext Cli(std::ostream* out) {
    CommandContext ctx;
    ctx.stub = studies_.get();
    ctx.out = out;
    return ctx;
  }

  int uploads_ = 0;
};

TEST_F(ArtifactServiceTest, UploadedFilesAreListedAndDownloadIntactWithTheCli) {
  Create(StudyYaml("up", ""));
  v1::AcquireTrialResponse trial = Acquire();
  EXPECT_EQ(trial.max_artifact_bytes(), int64_t{1} << 30);  // The default.
  std::string model(worker::kArtifactChunkBytes * 5 / 2, '\0');
  for (size_t i = 0; i < model.size(); ++i) model[i] = static_cast<char>(i * 7 % 251);
  ASSERT_TRUE(Upload(trial.lease(), {{"model/model.pt", model}, {"notes.txt", "hello"}}).ok());
  absl::StatusOr<std::vector<v1::ArtifactFile>> files = List("up", 0);
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].path(), "model/model.pt");
  EXPECT_EQ((*files)[0].size_bytes(), static_cast<int64_t>(model.size()));
  EXPECT_EQ((*files)[0].sha256(), Sha256Hex(model));

  std::ostringstream out;
  ArtifactsGetArgs args;
  args.study = "up";
  args.trial = 0;
  args.out_dir = (dir_ / "got").string();
  ASSERT_TRUE(GetArtifactsCommand(Cli(&out), args).ok());
  EXPECT_EQ(ReadFile(dir_ / "got" / "model" / "model.pt"), model);
  EXPECT_EQ(ReadFile(dir_ / "got" / "notes.txt"), "hello");
  EXPECT_THAT(out.str(), HasSubstr("trial 0: 2 files"));

  std::ostringstream table;
  ASSERT_TRUE(ListArtifactsCommand(Cli(&table), "up", std::nullopt).ok());
  EXPECT_THAT(table.str(), HasSubstr("model/model.pt"));
  EXPECT_THAT(table.str(), HasSubstr(Sha256Hex("hello")));
}

TEST_F(ArtifactServiceTest, PathsThatEscapeAreRefusedNamingThemAndNothingIsStored) {
  Create(StudyYaml("esc", ""));
  v1::AcquireTrialResponse trial = Acquire();
  for (const std::string path : {"../../etc/evil", "/abs", "a//b", "a/./b"}) {
    const grpc::Status status = UploadRaw(trial.lease(), {{"ok.txt", "x"}, {path, "evil"}});
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << path;
    EXPECT_THAT(status.error_message(), HasSubstr(path)) << path;
  }
  EXPECT_TRUE(Paths("esc", 0).empty());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "etc"));
  grpc::ClientContext context;
  v1::DownloadArtifactRequest request;
  request.set_study("esc");
  request.set_trial(0);
  request.set_path("../../vernier.db");
  auto reader = studies_->DownloadArtifact(&context, request);
  v1::ArtifactChunk chunk;
  EXPECT_FALSE(reader->Read(&chunk));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ArtifactServiceTest, OnlyTheLeaseHolderMayUpload) {
  Create(StudyYaml("lease", ""));
  v1::AcquireTrialResponse trial = Acquire();
  EXPECT_EQ(Upload(trial.lease(), {{"a", "x"}}, "someone-else").error_code(),
            grpc::StatusCode::ABORTED);
  ASSERT_TRUE(Complete(trial.lease(), 0.5).ok());
  EXPECT_EQ(Upload(trial.lease(), {{"a", "x"}}).error_code(), grpc::StatusCode::ABORTED);
  EXPECT_TRUE(Paths("lease", 0).empty());
}

TEST_F(ArtifactServiceTest, UploadsOverTheStudysMaxBytesAreRefused) {
  Create(StudyYaml("small", "artifacts: {max_bytes: 10}"));
  v1::AcquireTrialResponse trial = Acquire();
  EXPECT_EQ(trial.max_artifact_bytes(), 10);
  const grpc::Status status = UploadRaw(trial.lease(), {{"a", "123456"}, {"b", "123456"}});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("artifacts.max_bytes"));
  EXPECT_TRUE(Paths("small", 0).empty());
}

TEST_F(ArtifactServiceTest, KeepNoneAsksForNoUploadAndRefusesOne) {
  Create(StudyYaml("none", "artifacts: {keep: none}"));
  v1::AcquireTrialResponse trial = Acquire();
  EXPECT_EQ(trial.max_artifact_bytes(), 0);
  const grpc::Status status = Upload(trial.lease(), {{"a", "x"}});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("artifacts.keep is none"));
}

TEST_F(ArtifactServiceTest, RetentionKeepsTheBestCountAndDeletesTheTrialsThatFellOut) {
  Create(StudyYaml("ret", "artifacts: {keep: best, count: 1}"));
  v1::AcquireTrialResponse first = Acquire();
  v1::AcquireTrialResponse second = Acquire();
  ASSERT_TRUE(Upload(first.lease(), {{"m.pt", "first"}}).ok());
  ASSERT_TRUE(Upload(second.lease(), {{"m.pt", "second"}}).ok());
  ASSERT_TRUE(Complete(first.lease(), 0.5).ok());
  // Trial 1 still runs: its files stay, whatever its rank will be.
  EXPECT_THAT(Paths("ret", std::nullopt), ::testing::ElementsAre("0:m.pt", "1:m.pt"));
  ASSERT_TRUE(Complete(second.lease(), 0.9).ok());
  EXPECT_THAT(Paths("ret", std::nullopt), ::testing::ElementsAre("1:m.pt"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "vernier.db.artifacts" / "study-ret" / "trial-0"));

  // The CLI's --best is the trial retention kept.
  std::ostringstream out;
  ArtifactsGetArgs args;
  args.study = "ret";
  args.best = true;
  args.out_dir = (dir_ / "best").string();
  ASSERT_TRUE(GetArtifactsCommand(Cli(&out), args).ok());
  EXPECT_EQ(ReadFile(dir_ / "best" / "m.pt"), "second");
  // No refit yet: --final says how to make one.
  args.best = false;
  args.final = true;
  const absl::Status final_model = GetArtifactsCommand(Cli(&out), args);
  EXPECT_EQ(final_model.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(final_model.message(), HasSubstr("vernier refit ret"));
  // And a trial with no files says so.
  args.final = false;
  args.trial = 0;
  EXPECT_THAT(GetArtifactsCommand(Cli(&out), args).message(), HasSubstr("no stored artifacts"));
}

TEST_F(ArtifactServiceTest, ArtifactsSurviveARestartAndUnknownTrialsAreNotFound) {
  Create(StudyYaml("keep", "artifacts: {keep: all}"));
  v1::AcquireTrialResponse trial = Acquire();
  ASSERT_TRUE(Upload(trial.lease(), {{"m.pt", "weights"}}).ok());
  ASSERT_TRUE(Complete(trial.lease(), 0.1).ok());
  runner_.reset();
  StartServer();
  EXPECT_THAT(Paths("keep", 0), ::testing::ElementsAre("0:m.pt"));
  EXPECT_EQ(List("keep", 99).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(List("nope", std::nullopt).status().code(), absl::StatusCode::kNotFound);
}

TEST(ArtifactMemoryServerTest, AServerWithoutADatabaseFileKeepsNoArtifacts) {
  ServerOptions options;
  options.db_path = ":memory:";
  options.listen = "127.0.0.1:0";
  options.auth.insecure = true;
  auto runner = ServerRunner::Start(options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string((*runner)->port()),
                                     grpc::InsecureChannelCredentials());
  auto studies = v1::StudyService::NewStub(channel);
  auto workers = v1::WorkerService::NewStub(channel);
  {
    grpc::ClientContext context;
    v1::CreateStudyRequest request;
    request.set_spec_yaml(StudyYaml("mem", ""));
    v1::Study study;
    ASSERT_TRUE(studies->CreateStudy(&context, request, &study).ok());
  }
  grpc::ClientContext acquire_context;
  v1::AcquireTrialRequest acquire;
  acquire.set_worker_id("w");
  v1::AcquireTrialResponse trial;
  ASSERT_TRUE(workers->AcquireTrial(&acquire_context, acquire, &trial).ok());
  EXPECT_EQ(trial.max_artifact_bytes(), 0);
  grpc::ClientContext context;
  v1::ListArtifactsRequest request;
  request.set_study("mem");
  v1::ListArtifactsResponse response;
  const grpc::Status status = studies->ListArtifacts(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("keeps no artifacts"));
}

// What a sound server never sends: the CLI must still write nothing outside
// its directory and keep no file whose checksum is wrong.
class ArtifactCliMockTest : public ::testing::Test {
 protected:
  void Listing(const std::string& path, const std::string& contents, const std::string& sha256) {
    v1::ListArtifactsResponse listing;
    v1::ArtifactFile* file = listing.add_files();
    file->set_trial(3);
    file->set_path(path);
    file->set_size_bytes(static_cast<int64_t>(contents.size()));
    file->set_sha256(sha256);
    EXPECT_CALL(stub_, ListArtifacts(_, _, _))
        .WillOnce(::testing::DoAll(::testing::SetArgPointee<2>(listing), Return(grpc::Status::OK)));
  }

  void Serves(const std::string& contents) {
    auto* reader = new grpc::testing::MockClientReader<v1::ArtifactChunk>();
    v1::ArtifactChunk chunk;
    chunk.set_data(contents);
    EXPECT_CALL(*reader, Read(_))
        .WillOnce(::testing::DoAll(::testing::SetArgPointee<0>(chunk), Return(true)))
        .WillOnce(Return(false));
    EXPECT_CALL(*reader, Finish()).WillOnce(Return(grpc::Status::OK));
    EXPECT_CALL(stub_, DownloadArtifactRaw(_, _)).WillOnce(Return(reader));
  }

  absl::Status Get() {
    CommandContext ctx;
    ctx.stub = &stub_;
    ctx.out = &out_;
    ArtifactsGetArgs args;
    args.study = "s";
    args.trial = 3;
    args.out_dir = (dir_.path() / "out").string();
    return GetArtifactsCommand(ctx, args);
  }

  struct Dir {
    Dir() {
      path_ = std::filesystem::temp_directory_path() /
              ("vernier_cli_mock_" + std::to_string(::getpid()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
      std::filesystem::remove_all(path_);
      std::filesystem::create_directories(path_);
    }
    ~Dir() { std::filesystem::remove_all(path_); }
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path path_;
  };

  Dir dir_;
  v1::MockStudyServiceStub stub_;
  std::ostringstream out_;
};

TEST_F(ArtifactCliMockTest, APathOutsideTheDirectoryIsRefusedBeforeAnyDownload) {
  Listing("../escaped.txt", "x", Sha256Hex("x"));
  const absl::Status status = Get();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("../escaped.txt"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "escaped.txt"));
}

TEST_F(ArtifactCliMockTest, AFileWhoseChecksumDiffersIsNotKept) {
  Listing("model.pt", "expected", Sha256Hex("expected"));
  Serves("tampered");
  const absl::Status status = Get();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("model.pt"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "out" / "model.pt"));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "out"));
}

TEST_F(ArtifactCliMockTest, ASymbolicLinkInTheWayIsNotFollowed) {
  std::filesystem::create_directories(dir_.path() / "out");
  std::filesystem::create_directories(dir_.path() / "elsewhere");
  std::filesystem::create_directory_symlink(dir_.path() / "elsewhere", dir_.path() / "out" / "sub");
  Listing("sub/model.pt", "data", Sha256Hex("data"));
  const absl::Status status = Get();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("symbolic link"));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "elsewhere"));
}

}  // namespace
}  // namespace vernier
