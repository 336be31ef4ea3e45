// FaultyStudyStore: a StudyStore that wraps another and fails the writes a
// test chooses, as leveldb's SpecialEnv does for its Env. Two kinds of fault:
//   kRefused      the write fails and nothing is stored (a full disk, a busy
//                 database, an I/O error that rolls the transaction back);
//   kUnconfirmed  the write is stored, yet the call fails (a commit whose
//                 sync fails: the data may be on disk, and is here).
// Tests drive a coordinator through it and check that memory always equals
// what the store holds.
//
// Thread-safety: thread-safe.
#ifndef VERNIER_TESTS_SERVER_STORAGE_FAULTY_STUDY_STORE_H_
#define VERNIER_TESTS_SERVER_STORAGE_FAULTY_STUDY_STORE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/storage/study_store.h"

namespace vernier {

class FaultyStudyStore : public StudyStore {
 public:
  enum class Fault { kRefused, kUnconfirmed };

  // `inner` must outlive this.
  explicit FaultyStudyStore(StudyStore* inner) : inner_(inner) {}

  // The `nth` Apply from now on (1 = the next one) fails with `error`.
  void FailWrite(int nth, Fault fault,
                 absl::Status error = absl::UnavailableError("injected write failure")) {
    absl::MutexLock lock(&mu_);
    countdown_ = nth;
    fault_ = fault;
    error_ = std::move(error);
  }
  // Every Apply fails (kRefused) until Heal(): the store is gone for a while.
  void FailAll() {
    absl::MutexLock lock(&mu_);
    failing_ = true;
  }
  void Heal() {
    absl::MutexLock lock(&mu_);
    failing_ = false;
    countdown_ = 0;
  }
  // Applies seen so far, failed ones included.
  int64_t writes() const {
    absl::MutexLock lock(&mu_);
    return writes_;
  }
  // Writes failed so far.
  int64_t failures() const {
    absl::MutexLock lock(&mu_);
    return failures_;
  }

  absl::Status Apply(const StudyWrite& write) override {
    const auto [error, fault] = NextWrite();
    if (error.ok()) return inner_->Apply(write);
    if (fault == Fault::kUnconfirmed) inner_->Apply(write).IgnoreError();
    return error;
  }
  // A delete is a write like any other: the faults above apply to it.
  absl::StatusOr<int64_t> DeleteStudy(absl::string_view name) override {
    const auto [error, fault] = NextWrite();
    if (error.ok()) return inner_->DeleteStudy(name);
    if (fault == Fault::kUnconfirmed) inner_->DeleteStudy(name).IgnoreError();
    return error;
  }
  absl::StatusOr<std::vector<StoredStudy>> LoadAll() override { return inner_->LoadAll(); }
  absl::StatusOr<std::vector<StoredStudy>> LoadAll(const ValuesFilter& wants_values) override {
    return inner_->LoadAll(wants_values);
  }
  absl::StatusOr<std::map<int64_t, std::vector<Measurement>>> LoadValues(absl::string_view study,
                                                                         int64_t first,
                                                                         int64_t last) override {
    return inner_->LoadValues(study, first, last);
  }
  absl::StatusOr<StoredStudy> LoadStudy(absl::string_view name) override {
    {
      absl::MutexLock lock(&mu_);
      if (failing_) return absl::UnavailableError("injected: the store is down");
    }
    return inner_->LoadStudy(name);
  }
  absl::StatusOr<StoredStudy> LoadStudyLastValues(absl::string_view name) override {
    {
      absl::MutexLock lock(&mu_);
      if (failing_) return absl::UnavailableError("injected: the store is down");
    }
    return inner_->LoadStudyLastValues(name);
  }
  // A write like any other: the faults above apply to it.
  absl::Status SetRestingSummary(absl::string_view name,
                                 const std::optional<std::string>& summary) override {
    const auto [error, fault] = NextWrite();
    if (error.ok()) return inner_->SetRestingSummary(name, summary);
    if (fault == Fault::kUnconfirmed) inner_->SetRestingSummary(name, summary).IgnoreError();
    return error;
  }
  absl::StatusOr<int64_t> Backup(const std::string& path) override { return inner_->Backup(path); }
  void WaitDurable() override { inner_->WaitDurable(); }

 private:
  // Counts one write and says whether it fails (a non-OK status) and how.
  std::pair<absl::Status, Fault> NextWrite() {
    absl::MutexLock lock(&mu_);
    ++writes_;
    const bool fire = failing_ || (countdown_ > 0 && --countdown_ == 0);
    if (!fire) return {absl::OkStatus(), Fault::kRefused};
    ++failures_;
    if (failing_) return {absl::UnavailableError("injected: the store is down"), Fault::kRefused};
    return {error_, fault_};
  }

  StudyStore* const inner_;
  mutable absl::Mutex mu_;
  int countdown_ ABSL_GUARDED_BY(mu_) = 0;
  Fault fault_ ABSL_GUARDED_BY(mu_) = Fault::kRefused;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
  int64_t writes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vernier

#endif  // VERNIER_TESTS_SERVER_STORAGE_FAULTY_STUDY_STORE_H_
