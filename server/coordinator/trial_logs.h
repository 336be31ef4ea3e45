// The coordinator's side of trial logs, without gRPC: streaming one attempt's
// stored log to a reader (and following it while the attempt runs), and the
// pointer a FAILED trial's reason carries to its log. The logs themselves are
// in a LogStore (server/storage/log_store.h); the worker ships them
// (worker/log_shipper.h).
//
// Thread-safety: the functions are thread-safe; StreamTrialLog calls its
// callbacks from the calling thread only.
#ifndef VERNIER_SERVER_COORDINATOR_TRIAL_LOGS_H_
#define VERNIER_SERVER_COORDINATOR_TRIAL_LOGS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/storage/log_store.h"

namespace vernier {

// The most log bytes one streamed slice carries.
inline constexpr size_t kMaxLogChunkBytes = 256 * 1024;
// How often a follower looks again for the end of the attempt when no output
// arrives (new output wakes it at once).
inline constexpr absl::Duration kLogFollowPoll = absl::Milliseconds(250);

// What StreamTrialLog talks to.
struct TrialLogReader {
  // Takes one slice (at most kMaxLogChunkBytes); false: the reader went away.
  std::function<bool(const LogSlice& slice)> send;
  // Whether the reader went away; asked while waiting for output.
  std::function<bool()> cancelled;
};

// Sends `key`'s log from `offset` to `reader`: first what is stored (always
// at least one slice, an empty one when nothing is stored, so the reader
// learns what was cut), then, with `follow`, new output as it arrives until
// `attempt_ended()` is true and everything stored is sent. `attempt_ended`
// is asked before each read, so output stored before the attempt ended is
// always sent. CANCELLED when the reader went away; LogStore::Read's errors.
absl::Status StreamTrialLog(const LogStore& logs, const LogKey& key, int64_t offset, bool follow,
                            const std::function<bool()>& attempt_ended,
                            const TrialLogReader& reader);

// `reason` followed by " (full log: vernier logs STUDY TRIAL --attempt N)".
// When the whole would be over `max_bytes`, `reason` is cut (at a UTF-8
// character boundary) and marked " [truncated]" so that it fits.
std::string WithLogPointer(const std::string& reason, const std::string& study, int64_t trial,
                           int32_t attempt, size_t max_bytes);

}  // namespace vernier

#endif  // VERNIER_SERVER_COORDINATOR_TRIAL_LOGS_H_
