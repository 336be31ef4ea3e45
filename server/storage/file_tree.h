// Removing a directory tree that readers and writers of a file store may be
// using: it is first renamed away whole (under the store's lock, so that an
// install into it never meets half a directory), then removed without the
// lock, which may take long for a big tree.
#ifndef VERNIER_SERVER_STORAGE_FILE_TREE_H_
#define VERNIER_SERVER_STORAGE_FILE_TREE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace vernier {

// Renames `dir` to `trash` (a fresh path on the same file system) while
// holding `mu`, then removes `trash`. OK when `dir` does not exist. INTERNAL
// naming the path when the file system refuses; a failed removal leaves
// `trash` behind (the store's Open clears its temporary directory).
absl::Status RemoveTree(const std::string& dir, const std::string& trash, absl::Mutex& mu);

}  // namespace vernier

#endif  // VERNIER_SERVER_STORAGE_FILE_TREE_H_
