#include "worker/checkpoint_transfer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vernier::worker {
namespace {

namespace fs = std::filesystem;

bool IsPlainName(const std::string& name) {
  if (name.empty() || name.size() > 128 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// The checkpoint files of `dir`, sorted by name.
std::vector<fs::path> CheckpointFiles(const std::string& dir) {
  std::vector<fs::path> files;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_regular_file(error) && IsPlainName(entry.path().filename().string())) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

grpc::Status Internal(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INTERNAL, message);
}

}  // namespace

absl::Status SnapshotCheckpoint(const std::string& from, int64_t step, const std::string& to) {
  const std::vector<fs::path> files = CheckpointFiles(from);
  if (files.empty()) return absl::NotFoundError(absl::StrCat(from, ": no checkpoint file"));
  std::error_code error;
  fs::create_directories(to, error);
  if (error) return absl::InternalError(absl::StrCat(to, ": cannot create: ", error.message()));
  for (const fs::path& file : files) {
    fs::copy_file(file, fs::path(to) / file.filename(), fs::copy_options::overwrite_existing,
                  error);
    if (error) {
      return absl::InternalError(absl::StrCat(file.string(), ": cannot copy: ", error.message()));
    }
  }
  std::ifstream state(fs::path(to) / "state.json");
  if (state) {
    const nlohmann::json doc = nlohmann::json::parse(state, nullptr, /*allow_exceptions=*/false);
    if (doc.is_object() && doc.contains("epoch") && doc["epoch"].is_number_integer() &&
        doc["epoch"].get<int64_t>() != step) {
      return absl::FailedPreconditionError(
          absl::StrCat(from, ": holds epoch ", doc["epoch"].get<int64_t>(), ", not step ", step,
                       " (overwritten by a later checkpoint)"));
    }
  }
  return absl::OkStatus();
}

grpc::Status UploadCheckpoint(v1::WorkerService::StubInterface* stub, absl::Duration timeout,
                              const std::string& worker_id, const v1::TrialLease& lease,
                              int64_t step, const std::string& dir) {
  const std::vector<fs::path> files = CheckpointFiles(dir);
  if (files.empty()) return Internal(absl::StrCat(dir, ": no checkpoint file"));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::UploadCheckpointResponse response;
  std::unique_ptr<grpc::ClientWriterInterface<v1::UploadCheckpointRequest>> writer =
      stub->UploadCheckpoint(&context, &response);
  std::string buffer(kCheckpointChunkBytes, '\0');
  bool first = true;
  bool sent = true;
  for (const fs::path& file : files) {
    std::FILE* in = std::fopen(file.c_str(), "rb");
    if (in == nullptr) {
      context.TryCancel();
      writer->WritesDone();
      (void)writer->Finish();
      return Internal(absl::StrCat(file.string(), ": cannot read: ", std::strerror(errno)));
    }
    bool any = false;
    while (sent) {
      const size_t n = std::fread(buffer.data(), 1, buffer.size(), in);
      if (n == 0 && any) break;
      v1::UploadCheckpointRequest request;
      if (first) {
        request.set_worker_id(worker_id);
        *request.mutable_lease() = lease;
        request.set_step(step);
        first = false;
      }
      request.mutable_chunk()->set_file(file.filename().string());
      request.mutable_chunk()->set_data(buffer.data(), n);
      any = true;
      sent = writer->Write(request);
      if (n < buffer.size()) break;
    }
    std::fclose(in);
    if (!sent) break;  // The server ended the call; Finish() says why.
  }
  writer->WritesDone();
  return writer->Finish();
}

grpc::Status DownloadCheckpoint(v1::WorkerService::StubInterface* stub, absl::Duration timeout,
                                const std::string& worker_id, const v1::TrialLease& lease,
                                int64_t donor, int64_t donor_step, const std::string& dir) {
  const std::string temp = dir + ".part";
  std::error_code error;
  fs::remove_all(temp, error);
  fs::create_directories(temp, error);
  if (error) return Internal(absl::StrCat(temp, ": cannot create: ", error.message()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  v1::DownloadCheckpointRequest request;
  request.set_worker_id(worker_id);
  *request.mutable_lease() = lease;
  request.set_donor_trial(donor);
  request.set_donor_step(donor_step);
  std::unique_ptr<grpc::ClientReaderInterface<v1::CheckpointChunk>> reader =
      stub->DownloadCheckpoint(&context, request);
  v1::CheckpointChunk chunk;
  std::string current;
  std::FILE* out = nullptr;
  grpc::Status local = grpc::Status::OK;
  while (reader->Read(&chunk)) {
    if (!local.ok()) continue;  // Drain the stream before Finish().
    if (chunk.file() != current) {
      if (out != nullptr) std::fclose(out);
      out = nullptr;
      current = chunk.file();
      if (!IsPlainName(current)) {
        local = Internal(absl::StrCat("the server sent a bad file name \"", current, "\""));
        context.TryCancel();
        continue;
      }
      out = std::fopen((fs::path(temp) / current).c_str(), "wb");
      if (out == nullptr) {
        local =
            Internal(absl::StrCat(temp, "/", current, ": cannot create: ", std::strerror(errno)));
        context.TryCancel();
        continue;
      }
    }
    if (!chunk.data().empty() &&
        std::fwrite(chunk.data().data(), 1, chunk.data().size(), out) != chunk.data().size()) {
      local = Internal(absl::StrCat(temp, "/", current, ": cannot write: ", std::strerror(errno)));
      context.TryCancel();
    }
  }
  if (out != nullptr && std::fclose(out) != 0 && local.ok()) {
    local = Internal(absl::StrCat(temp, "/", current, ": cannot write: ", std::strerror(errno)));
  }
  const grpc::Status status = reader->Finish();
  if (!local.ok()) return local;
  if (!status.ok()) return status;
  if (current.empty()) return Internal("the server sent an empty checkpoint");
  fs::rename(temp, dir, error);
  if (error) return Internal(absl::StrCat(dir, ": cannot install: ", error.message()));
  return grpc::Status::OK;
}

}  // namespace vernier::worker
