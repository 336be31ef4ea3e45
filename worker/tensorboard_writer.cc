#include "worker/tensorboard_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tensorboard/event.pb.h"

namespace vernier::worker {
namespace {

constexpr uint32_t kMaskDelta = 0xa282ead8u;
constexpr char kFileVersion[] = "brain.Event:2";

std::array<uint32_t, 256> MakeCrc32cTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    table[i] = crc;
  }
  return table;
}

void AppendLittleEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t ReadLittleEndian(absl::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  return value;
}

double WallTime(absl::Time now) { return absl::ToDoubleSeconds(now - absl::UnixEpoch()); }

absl::Status ErrnoError(absl::string_view what, const std::string& path, int error) {
  return absl::Status(error == ENOSPC || error == EDQUOT ? absl::StatusCode::kResourceExhausted
                                                         : absl::StatusCode::kUnavailable,
                      absl::StrCat(what, " ", path, ": ", std::strerror(error)));
}

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  std::string host = name;
  for (char& c : host) {
    if (c == '/') c = '_';
  }
  return host;
}

}  // namespace

uint32_t Crc32c(absl::string_view data) {
  static const std::array<uint32_t, 256> kTable = MakeCrc32cTable();
  uint32_t crc = 0xffffffffu;
  for (unsigned char byte : data) crc = kTable[(crc ^ byte) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

uint32_t MaskedCrc32c(absl::string_view data) {
  const uint32_t crc = Crc32c(data);
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}

std::string TfRecordFrame(absl::string_view data) {
  std::string frame;
  frame.reserve(data.size() + 16);
  AppendLittleEndian(frame, data.size(), 8);
  AppendLittleEndian(frame, MaskedCrc32c(frame), 4);
  frame.append(data.data(), data.size());
  AppendLittleEndian(frame, MaskedCrc32c(data), 4);
  return frame;
}

absl::StatusOr<std::vector<std::string>> ReadTfRecords(absl::string_view contents) {
  std::vector<std::string> records;
  while (!contents.empty()) {
    const std::string where = absl::StrCat("record ", records.size());
    if (contents.size() < 12) return absl::DataLossError(absl::StrCat(where, ": header cut short"));
    const absl::string_view length_bytes = contents.substr(0, 8);
    if (ReadLittleEndian(contents.substr(8, 4)) != MaskedCrc32c(length_bytes)) {
      return absl::DataLossError(absl::StrCat(where, ": length CRC mismatch"));
    }
    const uint64_t length = ReadLittleEndian(length_bytes);
    contents.remove_prefix(12);
    if (contents.size() < 4 || length > contents.size() - 4) {
      return absl::DataLossError(absl::StrCat(where, ": data cut short"));
    }
    const absl::string_view data = contents.substr(0, length);
    if (ReadLittleEndian(contents.substr(length, 4)) != MaskedCrc32c(data)) {
      return absl::DataLossError(absl::StrCat(where, ": data CRC mismatch"));
    }
    records.emplace_back(data);
    contents.remove_prefix(length + 4);
  }
  return records;
}

// ---- TensorBoardWriter ----

absl::StatusOr<std::unique_ptr<TensorBoardWriter>> TensorBoardWriter::Open(const std::string& dir,
                                                                           absl::Time now) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create directory ", dir, ": ", error.message()));
  }
  const std::string base = absl::StrCat(dir, "/events.out.tfevents.", absl::ToUnixSeconds(now), ".",
                                        HostName(), ".", getpid());
  std::string path = base;
  int fd = -1;
  for (int suffix = 1;; ++suffix) {
    fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_APPEND, 0644);
    if (fd >= 0) break;
    if (errno != EEXIST || suffix > 1000) return ErrnoError("cannot create", path, errno);
    path = absl::StrCat(base, ".", suffix);
  }
  std::unique_ptr<TensorBoardWriter> writer(new TensorBoardWriter(path, fd));
  tensorboard::Event event;
  event.set_wall_time(WallTime(now));
  event.set_file_version(kFileVersion);
  const absl::Status written = writer->WriteRecord(event.SerializeAsString());
  if (!written.ok()) return written;
  return writer;
}

TensorBoardWriter::~TensorBoardWriter() { close(fd_); }

absl::Status TensorBoardWriter::WriteScalars(int64_t step, const MetricMap& values, absl::Time now,
                                             absl::string_view tag_prefix) {
  if (values.empty()) return absl::OkStatus();
  tensorboard::Event event;
  event.set_wall_time(WallTime(now));
  event.set_step(step);
  tensorboard::Summary* summary = event.mutable_summary();
  for (const auto& [name, value] : values) {
    tensorboard::Summary::Value* scalar = summary->add_value();
    scalar->set_tag(absl::StrCat(tag_prefix, name));
    scalar->set_simple_value(static_cast<float>(value));
  }
  return WriteRecord(event.SerializeAsString());
}

absl::Status TensorBoardWriter::WriteRecord(absl::string_view data) {
  // One write per record, so a reader following the file sees whole records
  // (O_APPEND; a short write is finished by the loop).
  const std::string frame = TfRecordFrame(data);
  absl::string_view rest = frame;
  while (!rest.empty()) {
    const ssize_t n = write(fd_, rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path_, errno);
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// ---- TrialTensorBoard ----

TrialTensorBoard::TrialTensorBoard(const v1::AcquireTrialResponse& acquired, LogFn log)
    : log_(std::move(log)),
      trial_(absl::StrCat(acquired.lease().study(), "#", acquired.lease().trial_number())) {
  if (acquired.tensorboard_dir().empty()) return;
  const absl::Status started = Start(acquired);
  if (!started.ok()) Fail("cannot start", started);
}

absl::Status TrialTensorBoard::Start(const v1::AcquireTrialResponse& acquired) {
  const std::string dir = absl::StrCat(acquired.tensorboard_dir(), "/", acquired.lease().study(),
                                       "/trial-", acquired.lease().trial_number());
  const absl::Time now = absl::Now();
  absl::StatusOr<std::unique_ptr<TensorBoardWriter>> writer = TensorBoardWriter::Open(dir, now);
  if (!writer.ok()) return writer.status();
  writer_ = *std::move(writer);

  MetricMap numeric;
  nlohmann::json all = nlohmann::json::object();  // Sorted by name: a stable file.
  for (const auto& [name, value] : acquired.trial().params()) {
    switch (value.kind_case()) {
      case v1::ParameterValue::kIntValue:
        numeric[name] = static_cast<double>(value.int_value());
        all[name] = value.int_value();
        break;
      case v1::ParameterValue::kDoubleValue:
        numeric[name] = value.double_value();
        all[name] = value.double_value();
        break;
      case v1::ParameterValue::kStringValue:
        all[name] = value.string_value();
        break;
      default:
        break;
    }
  }
  const absl::Status written = writer_->WriteScalars(0, numeric, now, "params/");
  if (!written.ok()) return written;
  const std::string params_path = absl::StrCat(dir, "/params.json");
  std::ofstream params(params_path, std::ios::trunc);
  params << all.dump(2) << "\n";
  params.close();
  if (!params) return absl::UnavailableError(absl::StrCat("cannot write ", params_path));
  return absl::OkStatus();
}

void TrialTensorBoard::Report(int64_t step, const MetricMap& metrics) {
  if (!writer_) return;
  if (step > last_step_) last_step_ = step;
  const absl::Status written = writer_->WriteScalars(step, metrics, absl::Now());
  if (!written.ok()) Fail(absl::StrCat("cannot write the report of step ", step), written);
}

void TrialTensorBoard::Final(const MetricMap& metrics) {
  if (!writer_) return;
  const absl::Status written = writer_->WriteScalars(last_step_, metrics, absl::Now(), "final/");
  if (!written.ok()) Fail("cannot write the final metrics", written);
}

void TrialTensorBoard::Fail(absl::string_view what, const absl::Status& status) {
  writer_.reset();
  log_(absl::StrCat("trial ", trial_, ": TensorBoard tracking stopped, ", what, ": ",
                    status.message()));
}

}  // namespace vernier::worker
