#include "server/coordinator/trial_logs.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace vernier {

absl::Status StreamTrialLog(const LogStore& logs, const LogKey& key, int64_t offset, bool follow,
                            const std::function<bool()>& attempt_ended,
                            const TrialLogReader& reader) {
  bool first = true;
  while (true) {
    // Asked before reading: the worker stores its last output before it
    // reports the end, so once ended, this read sees all of it.
    const bool ended = !follow || attempt_ended();
    while (true) {
      ASSIGN_OR_RETURN(LogSlice slice, logs.Read(key, offset, kMaxLogChunkBytes));
      if (slice.data.empty() && !first) break;
      if (!reader.send(slice)) return absl::CancelledError("the reader went away");
      first = false;
      offset = slice.offset + static_cast<int64_t>(slice.data.size());
      if (slice.data.empty()) break;
    }
    if (ended) return absl::OkStatus();
    if (reader.cancelled()) return absl::CancelledError("the reader went away");
    logs.WaitForAppend(key, offset, kLogFollowPoll);
  }
}

std::string WithLogPointer(const std::string& reason, const std::string& study, int64_t trial,
                           int32_t attempt, size_t max_bytes) {
  const std::string pointer =
      absl::StrCat(" (full log: vernier logs ", study, " ", trial, " --attempt ", attempt, ")");
  if (reason.size() + pointer.size() <= max_bytes) return reason + pointer;
  constexpr absl::string_view kTruncated = " [truncated]";
  const size_t room = pointer.size() + kTruncated.size();
  size_t end = max_bytes > room ? max_bytes - room : 0;
  while (end > 0 && (static_cast<unsigned char>(reason[end]) & 0xC0) == 0x80) --end;
  return absl::StrCat(reason.substr(0, end), kTruncated, pointer);
}

}  // namespace vernier
