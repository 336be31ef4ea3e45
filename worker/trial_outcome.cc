#include "worker/trial_outcome.h"

#include <string.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace vernier::worker {
namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Returns the length of the well-formed UTF-8 sequence at the start of `text`,
// or 0 when it does not start with one (Unicode Table 3-7).
size_t ValidSequenceLength(absl::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_min = 0xA0;  // No overlong forms.
    if (lead == 0xED) second_max = 0x9F;  // No surrogates.
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_min = 0x90;  // No overlong forms.
    if (lead == 0xF4) second_max = 0x8F;  // Nothing above U+10FFFF.
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < second_min || byte(1) > second_max) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (!IsContinuation(byte(i))) return 0;
  }
  return length;
}

std::string SignalName(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  if (abbrev == nullptr) return absl::StrCat(signal);
  return absl::StrCat(signal, " (SIG", abbrev, ")");
}

// The stderr tail, cleaned for a reason string: no partial character at the
// front (the tail was cut at a byte count), no surrounding blank space.
std::string CleanTail(absl::string_view tail) {
  while (!tail.empty() && IsContinuation(static_cast<unsigned char>(tail.front()))) {
    tail.remove_prefix(1);
  }
  return ToValidUtf8(absl::StripAsciiWhitespace(tail));
}

TrialOutcome Failed(std::string reason, absl::string_view stderr_tail) {
  const std::string tail = CleanTail(stderr_tail);
  if (!tail.empty()) absl::StrAppend(&reason, "; stderr:\n", tail);
  return {OutcomeState::kFailed, {}, ToValidUtf8(reason)};
}

}  // namespace

std::string ToValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const size_t length = ValidSequenceLength(text);
    if (length == 0) {
      out += kReplacement;
      text.remove_prefix(1);
    } else {
      out.append(text.data(), length);
      text.remove_prefix(length);
    }
  }
  return out;
}

absl::string_view OutcomeStateName(OutcomeState state) {
  switch (state) {
    case OutcomeState::kComplete:
      return "COMPLETE";
    case OutcomeState::kPruned:
      return "PRUNED";
    case OutcomeState::kFailed:
      return "FAILED";
  }
  return "FAILED";
}

TrialOutcome DecideOutcome(const TrialExit& exit, absl::Duration time_limit) {
  if (exit.stop_requested) return {OutcomeState::kPruned, {}, ""};
  if (!exit.protocol_error.ok()) {
    return {OutcomeState::kFailed, {}, ToValidUtf8(exit.protocol_error.message())};
  }
  if (exit.timed_out) {
    return {OutcomeState::kFailed,
            {},
            absl::StrCat("time limit of ", absl::ToDoubleSeconds(time_limit), " s exceeded")};
  }
  if (exit.exited && exit.exit_code == 0) {
    if (exit.final_metrics.has_value()) {
      return {OutcomeState::kComplete, *exit.final_metrics, ""};
    }
    return Failed("exited without a final result", exit.stderr_tail);
  }
  if (exit.exited) {
    return Failed(absl::StrCat("exited with code ", exit.exit_code), exit.stderr_tail);
  }
  if (exit.signaled) {
    return Failed(absl::StrCat("killed by signal ", SignalName(exit.signal)), exit.stderr_tail);
  }
  return Failed("ended in an unknown way", exit.stderr_tail);
}

}  // namespace vernier::worker
