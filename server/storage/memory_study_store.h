// MemoryStudyStore: a StudyStore that keeps everything in process memory.
//
// For tests of the coordinator and the services, and for throw-away runs. It
// behaves like SqliteStudyStore in every observable way (the same conformance
// suite runs against both): the same error codes, the same ordering, times cut
// to microseconds, and the same records refused. It is not durable: its
// contents die with the object.
//
// Thread-safety: thread-safe; every call takes one internal mutex.
#ifndef VERNIER_SERVER_STORAGE_MEMORY_STUDY_STORE_H_
#define VERNIER_SERVER_STORAGE_MEMORY_STUDY_STORE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/logic/study_record.h"
#include "server/logic/types.h"
#include "server/storage/study_store.h"

namespace vernier {

class MemoryStudyStore : public StudyStore {
 public:
  MemoryStudyStore() = default;
  MemoryStudyStore(const MemoryStudyStore&) = delete;
  MemoryStudyStore& operator=(const MemoryStudyStore&) = delete;

  // StudyStore. Beyond the interface's codes, Apply returns INVALID_ARGUMENT
  // for a write that ValidateWrite (record_codec.h) refuses. LoadAll never
  // fails.
  absl::Status Apply(const StudyWrite& write) override;
  absl::StatusOr<std::vector<StoredStudy>> LoadAll() override;
  absl::StatusOr<std::vector<StoredStudy>> LoadAll(const ValuesFilter& wants_values) override;
  absl::StatusOr<std::map<int64_t, std::vector<Measurement>>> LoadValues(absl::string_view study,
                                                                         int64_t first,
                                                                         int64_t last) override;
  absl::StatusOr<StoredStudy> LoadStudy(absl::string_view name) override;
  absl::StatusOr<StoredStudy> LoadStudyLastValues(absl::string_view name) override;
  absl::Status SetRestingSummary(absl::string_view name,
                                 const std::optional<std::string>& summary) override;
  absl::StatusOr<int64_t> DeleteStudy(absl::string_view name) override;

 private:
  struct Entry {
    StudyRecord study;
    std::map<int64_t, TrialRecord> trials;  // By number; intermediates inside.
    std::string resting_summary;
  };

  static StoredStudy Stored(const Entry& entry);
  // Keeps only the last measurement of each of `study`'s trials.
  static void KeepLastValues(StoredStudy& study);
  // The study called `name`, or nullptr.
  Entry* FindStudy(absl::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK when Apply(write) can be carried out in full: the checks of the
  // StudyStore contract, made before anything changes.
  absl::Status CheckApplicable(const StudyWrite& write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::vector<Entry> studies_ ABSL_GUARDED_BY(mu_);  // In creation order.
  // Study name -> index in studies_.
  absl::flat_hash_map<std::string, size_t> index_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vernier

#endif  // VERNIER_SERVER_STORAGE_MEMORY_STUDY_STORE_H_
