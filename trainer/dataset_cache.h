// A cache of decoded data sets on disk, so that only the first trial of a
// study pays for decompressing and parsing the source files.
//
// An entry is a raw file <kind>-<hash>.raw beside a text file <kind>-<hash>.key
// in the cache directory, where <hash> is a 64-bit FNV-1a hash of the cache
// key. The key (see MakeCacheKey) names the format version and every source
// file with its size and modification time, so changing or replacing a source
// file makes the old entry unreachable: a miss, never stale data. The raw file
// starts with the full key, and a read checks it (a hash collision is a miss)
// and the exact length (a damaged entry is a miss).
//
// The cache keeps at most kMaxCacheEntriesPerKind entries of each kind: a
// write removes the entries whose source files are gone, then the oldest
// others (by modification time), so entries for source files that changed or
// vanished (tests' temporary files), or for many encoding settings, do not
// pile up.
//
// Several trials may start at once on one machine: a writer writes a private
// temporary file and rename()s it into place, so a reader sees either no entry
// or a whole one, and concurrent writers of one key just replace each other's
// identical files.
//
// Thread-safety: functions over files; thread-safe, and safe across processes.
#ifndef VERNIER_TRAINER_DATASET_CACHE_H_
#define VERNIER_TRAINER_DATASET_CACHE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace vernier {

inline constexpr int kMaxCacheEntriesPerKind = 16;

// Bumped whenever the meaning of any cached payload changes.
inline constexpr int kDatasetCacheFormatVersion = 1;

// Returns the default cache directory: $XDG_CACHE_HOME/vernier when that is
// set (and absolute), else $HOME/.cache/vernier, else "" (no cache).
std::string DefaultCacheDir();

// Returns the key for data of `kind` (e.g. "idx-images") decoded from
// `source_files`: the format version, the kind, then each file's absolute path,
// size in bytes and modification time in nanoseconds. Returns NOT_FOUND naming
// a file that cannot be stat()ed.
absl::StatusOr<std::string> MakeCacheKey(absl::string_view kind,
                                         const std::vector<std::string>& source_files);

// Returns the entry's raw file path for `key` in `dir` (the .key file is the
// same path with ".key" instead of ".raw").
std::string CacheEntryPath(const std::string& dir, absl::string_view kind, absl::string_view key);

// Stores `blobs` under `key`, creating `dir` if needed. Returns INTERNAL or
// the filesystem's error, naming the path, if the entry cannot be written (the
// caller may ignore it: the cache only saves time).
absl::Status WriteCacheEntry(const std::string& dir, absl::string_view kind, absl::string_view key,
                             const std::vector<absl::Span<const uint8_t>>& blobs);

// Returns the blobs stored under `key`, or nullopt when there is no whole
// entry for exactly that key (absent, written for another key, truncated or
// otherwise damaged).
std::optional<std::vector<std::vector<uint8_t>>> ReadCacheEntry(const std::string& dir,
                                                                absl::string_view kind,
                                                                absl::string_view key);

}  // namespace vernier

#endif  // VERNIER_TRAINER_DATASET_CACHE_H_
