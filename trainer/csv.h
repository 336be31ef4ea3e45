// A reader for delimited text files (CSV, TSV) as RFC 4180 describes them: a
// field may be quoted with '"', a quoted field may hold the delimiter, line
// breaks and doubled quotes (""); lines end in LF or CRLF; a final line break
// is optional; empty lines are skipped. Whitespace around fields is kept
// (callers trim where it matters).
//
// Thread-safety: pure functions (ReadDelimitedFile reads a file); thread-safe.
#ifndef VERNIER_TRAINER_CSV_H_
#define VERNIER_TRAINER_CSV_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vernier {

// One record of a delimited file.
struct CsvRow {
  int64_t line = 0;  // 1-based line on which the record starts.
  std::vector<std::string> fields;
};

// Returns the records of `text`. Errors are INVALID_ARGUMENT whose message
// starts with "<source>:<line>: ", for a quoted field that never ends or a
// quote followed by something other than the delimiter or a line end.
absl::StatusOr<std::vector<CsvRow>> ParseDelimited(absl::string_view text, char delimiter,
                                                   absl::string_view source);

// Returns the delimiter for `path`: a tab for names ending in .tsv or .tab
// (any case), else a comma.
char DelimiterForPath(absl::string_view path);

// Reads `path` and parses it with ParseDelimited and DelimiterForPath. Returns
// NOT_FOUND if the file cannot be opened, DATA_LOSS if reading fails, and the
// errors of ParseDelimited (with `path` as source).
absl::StatusOr<std::vector<CsvRow>> ReadDelimitedFile(const std::string& path);

// Reads the whole of `path` into a string. NOT_FOUND / DATA_LOSS as above.
absl::StatusOr<std::string> ReadTextFile(const std::string& path);

}  // namespace vernier

#endif  // VERNIER_TRAINER_CSV_H_
