// TensorBoard tracking of trials (`tracking: {tensorboard: DIR}` in a study
// file): the worker writes each trial's parameters, curves and final metrics
// as a TensorBoard event file, so people see them with `tensorboard --logdir
// DIR` — no TensorBoard server, TensorFlow or Python on the worker.
//
// Layout: DIR/<study>/trial-<number>/events.out.tfevents.<unix seconds>.
// <hostname>.<pid>, a TFRecord file of serialized vernier.tensorboard.Event
// protos (proto/tensorboard/event.proto, wire-compatible with TensorBoard's):
//   - the file version event, "brain.Event:2";
//   - each numeric parameter as scalar "params/<name>" at step 0;
//   - each relayed intermediate report as one scalar per metric (tag: the
//     metric's name) at the report's step;
//   - a COMPLETE trial's final metrics as "final/<metric>" at the last
//     reported step (0 when it reported none).
// A categorical parameter as a scalar would plot the index of a value, which
// misleads; instead every parameter, by name, with its value (number or
// string), goes to params.json next to the event file.
// A retried trial (a new attempt) adds an event file of its own to the same
// directory; TensorBoard reads every event file there.
//
// TFRecord framing of each record: the data's length as uint64 little-endian,
// the masked CRC32C of those 8 bytes (uint32 little-endian), the data, the
// masked CRC32C of the data. mask(crc) = ((crc >> 15) | (crc << 17)) +
// 0xa282ead8.
//
// Thread-safety: the functions are pure and thread-safe; a TensorBoardWriter
// or a TrialTensorBoard is used by one thread at a time (the trial's slot
// thread).
#ifndef VERNIER_WORKER_TENSORBOARD_WRITER_H_
#define VERNIER_WORKER_TENSORBOARD_WRITER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/trial_protocol.h"
#include "vernier/v1/worker_service.pb.h"

namespace vernier::worker {

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `data`.
uint32_t Crc32c(absl::string_view data);

// TFRecord's masked CRC32C of `data`.
uint32_t MaskedCrc32c(absl::string_view data);

// `data` framed as one TFRecord record.
std::string TfRecordFrame(absl::string_view data);

// The records of a TFRecord file's contents, in order. DATA_LOSS naming the
// record's index when a frame is cut short or a CRC does not match. For tests
// and tools: the worker only writes.
absl::StatusOr<std::vector<std::string>> ReadTfRecords(absl::string_view contents);

// One event file, open for appending.
class TensorBoardWriter {
 public:
  // Creates `dir` (and its parents) and a new event file in it named
  // events.out.tfevents.<unix seconds of now>.<hostname>.<pid> (a ".N"
  // suffix when that name is taken: never overwrites a file), and writes the
  // file version event. An error status (from the file system, with the
  // path) when the directory or the file cannot be created or written.
  static absl::StatusOr<std::unique_ptr<TensorBoardWriter>> Open(const std::string& dir,
                                                                 absl::Time now);
  ~TensorBoardWriter();
  TensorBoardWriter(const TensorBoardWriter&) = delete;
  TensorBoardWriter& operator=(const TensorBoardWriter&) = delete;

  // Appends one summary event at `step` with a scalar per entry of `values`,
  // tagged `tag_prefix` + name. Nothing when `values` is empty. An error
  // status when the write fails (the file may then end in a partial record,
  // which readers ignore).
  absl::Status WriteScalars(int64_t step, const MetricMap& values, absl::Time now,
                            absl::string_view tag_prefix = "");

  // The event file's path.
  const std::string& path() const { return path_; }

 private:
  TensorBoardWriter(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  absl::Status WriteRecord(absl::string_view data);

  const std::string path_;
  const int fd_;  // Owned; closed by the destructor.
};

// What the worker does for one trial with TensorBoard tracking on: opens the
// writer when the trial is prepared and feeds it. Never fails the trial: the
// first error is passed to `log` once and the trial is tracked no further.
// With an empty tensorboard_dir, every call does nothing.
class TrialTensorBoard {
 public:
  using LogFn = std::function<void(absl::string_view)>;

  // Opens DIR/<study>/trial-<number>/ for the trial `acquired` leases and
  // writes its parameters (step 0 scalars and params.json).
  TrialTensorBoard(const v1::AcquireTrialResponse& acquired, LogFn log);

  // An intermediate report the worker relayed.
  void Report(int64_t step, const MetricMap& metrics);
  // The final metrics of a COMPLETE trial, at the last reported step.
  void Final(const MetricMap& metrics);

  // The event file being written; empty when tracking is off or failed.
  std::string path() const { return writer_ ? writer_->path() : ""; }

 private:
  // Opens the writer and writes the parameters.
  absl::Status Start(const v1::AcquireTrialResponse& acquired);
  void Fail(absl::string_view what, const absl::Status& status);

  LogFn log_;
  std::string trial_;                          // "study#n", for the log line.
  std::unique_ptr<TensorBoardWriter> writer_;  // Null: off, or given up.
  int64_t last_step_ = 0;
};

}  // namespace vernier::worker

#endif  // VERNIER_WORKER_TENSORBOARD_WRITER_H_
