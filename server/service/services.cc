#include "server/service/services.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/schema/study_schema.h"
#include "server/service/grpc_status.h"
#include "server/service/proto_convert.h"

namespace vernier {
namespace {

grpc::Status MissingField(absl::string_view field) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat(field, ": missing"));
}

// Adds the trials of `view` to a response's `trials`.
template <typename Response>
void AddTrials(const TrialsView& view, Response* response) {
  for (const TrialRecord& trial : view.trials) {
    *response->add_trials() = ToProto(trial, view.objectives);
  }
}

// The spec of a CreateStudy request: the typed one, else the study file's
// text converted once, here. Not yet validated: the coordinator does that.
absl::StatusOr<StudySpec> RequestedSpec(const v1::CreateStudyRequest& request) {
  if (request.has_spec()) return StudySpecFromRequest(request.spec());
  if (request.spec_yaml().empty()) {
    return absl::InvalidArgumentError("spec_yaml: missing (or give spec)");
  }
  return StudySpecFromFile(request.spec_yaml());
}

// Waits, as the RPC returns, until every store write made before then (its
// own and those it may have seen) is durable, so that nothing is answered
// before it is on disk; concurrent RPCs share one disk sync. Every method
// starts with one.
class DurableOnReturn {
 public:
  explicit DurableOnReturn(Coordinator* coordinator) : coordinator_(coordinator) {}
  DurableOnReturn(const DurableOnReturn&) = delete;
  DurableOnReturn& operator=(const DurableOnReturn&) = delete;
  ~DurableOnReturn() { coordinator_->WaitDurable(); }

 private:
  Coordinator* const coordinator_;
};

}  // namespace

grpc::Status StudyServiceImpl::CreateStudy(grpc::ServerContext*,
                                           const v1::CreateStudyRequest* request,
                                           v1::Study* response) {
  DurableOnReturn durable(coordinator_);
  absl::StatusOr<StudySpec> spec = RequestedSpec(*request);
  if (!spec.ok()) return ToGrpcStatus(spec.status());
  absl::StatusOr<StudyView> view =
      coordinator_->CreateStudy(*std::move(spec), request->spec_yaml());
  if (!view.ok()) return ToGrpcStatus(view.status());
  *response = ToProto(*view);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::GetStudy(grpc::ServerContext*, const v1::GetStudyRequest* request,
                                        v1::Study* response) {
  DurableOnReturn durable(coordinator_);
  absl::StatusOr<StudyView> view = coordinator_->GetStudy(request->name());
  if (!view.ok()) return ToGrpcStatus(view.status());
  *response = ToProto(*view);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::ListStudies(grpc::ServerContext*, const v1::ListStudiesRequest*,
                                           v1::ListStudiesResponse* response) {
  DurableOnReturn durable(coordinator_);
  for (const StudyView& view : coordinator_->ListStudies())
    *response->add_studies() = ToProto(view);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::StopStudy(grpc::ServerContext*, const v1::StopStudyRequest* request,
                                         v1::Study* response) {
  DurableOnReturn durable(coordinator_);
  absl::StatusOr<StudyView> view = coordinator_->StopStudy(request->name());
  if (!view.ok()) return ToGrpcStatus(view.status());
  *response = ToProto(*view);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::UpdateStudy(grpc::ServerContext*,
                                           const v1::UpdateStudyRequest* request,
                                           v1::Study* response) {
  DurableOnReturn durable(coordinator_);
  BudgetUpdate update;
  if (request->has_max_trials()) update.max_trials = request->max_trials();
  if (request->has_parallel()) update.parallel = request->parallel();
  if (request->has_max_failures()) update.max_failures = request->max_failures();
  if (request->has_target()) update.target = request->target();
  if (request->has_max_seconds()) update.max_seconds = request->max_seconds();
  if (request->has_patience_trials()) update.patience_trials = request->patience_trials();
  if (request->has_priority()) update.priority = request->priority();
  update.resume = request->resume();
  absl::StatusOr<StudyView> view = coordinator_->UpdateStudy(request->name(), update);
  if (!view.ok()) return ToGrpcStatus(view.status());
  *response = ToProto(*view);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::DeleteStudy(grpc::ServerContext*,
                                           const v1::DeleteStudyRequest* request,
                                           v1::DeleteStudyResponse* response) {
  DurableOnReturn durable(coordinator_);
  absl::StatusOr<DeletedStudy> deleted =
      coordinator_->DeleteStudy(request->name(), request->force());
  if (!deleted.ok()) return ToGrpcStatus(deleted.status());
  response->set_trials(deleted->trials);
  response->set_running_trials_stopped(deleted->stopped);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::ExcludeTrial(grpc::ServerContext*,
                                            const v1::ExcludeTrialRequest* request,
                                            v1::Trial* response) {
  DurableOnReturn durable(coordinator_);
  absl::StatusOr<TrialView> view = coordinator_->ExcludeTrial(
      request->study(), request->trial_number(), request->reason(), request->include());
  if (!view.ok()) return ToGrpcStatus(view.status());
  *response = ToProto(view->trial, view->objectives);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::ListTrials(grpc::ServerContext*,
                                          const v1::ListTrialsRequest* request,
                                          v1::ListTrialsResponse* response) {
  DurableOnReturn durable(coordinator_);
  absl::StatusOr<TrialQuery> query = FromProto(*request);
  if (!query.ok()) return ToGrpcStatus(query.status());
  absl::StatusOr<TrialPage> page = coordinator_->ListTrials(request->study(), *query);
  if (!page.ok()) return ToGrpcStatus(page.status());
  response->set_next_page_token(page->next_page_token);
  response->set_total_size(page->total_size);
  if (request->columnar()) {
    *response->mutable_columns() = ColumnsToProto(page->trials);
    return grpc::Status::OK;
  }
  response->mutable_trials()->Reserve(static_cast<int>(page->trials.size()));
  for (ListedTrial& listed : page->trials) {
    if (!request->curve_only()) {
      *response->add_trials() = ToProto(listed);
      continue;
    }
    // The query kept only the one metric: packed, not a map per point.
    const std::vector<Measurement> curve = std::move(listed.trial.intermediate);
    listed.trial.intermediate.clear();
    v1::Trial* trial = response->add_trials();
    *trial = ToProto(listed);
    *trial->mutable_curve() = CurveToProto(request->intermediate_metrics(0), curve);
  }
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::GetTrial(grpc::ServerContext*, const v1::GetTrialRequest* request,
                                        v1::Trial* response) {
  DurableOnReturn durable(coordinator_);
  absl::StatusOr<TrialView> trial = coordinator_->GetTrial(request->study(), request->number());
  if (!trial.ok()) return ToGrpcStatus(trial.status());
  *response = ToProto(trial->trial, trial->objectives);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::GetBestTrials(grpc::ServerContext*,
                                             const v1::GetBestTrialsRequest* request,
                                             v1::GetBestTrialsResponse* response) {
  DurableOnReturn durable(coordinator_);
  absl::StatusOr<TrialsView> trials = coordinator_->BestTrials(request->study(), request->count());
  if (!trials.ok()) return ToGrpcStatus(trials.status());
  AddTrials(*trials, response);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::BackupDatabase(grpc::ServerContext*,
                                              const v1::BackupDatabaseRequest* request,
                                              v1::BackupDatabaseResponse* response) {
  DurableOnReturn durable(coordinator_);
  if (request->path().empty()) return MissingField("path");
  absl::StatusOr<int64_t> bytes = coordinator_->Backup(request->path());
  if (!bytes.ok()) return ToGrpcStatus(bytes.status());
  response->set_bytes(*bytes);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::EnqueueTrial(grpc::ServerContext*,
                                            const v1::EnqueueTrialRequest* request,
                                            v1::Trial* response) {
  DurableOnReturn durable(coordinator_);
  if (request->study().empty()) return MissingField("study");
  absl::StatusOr<ParamMap> params = FromProto(request->params());
  if (!params.ok()) return ToGrpcStatus(params.status());
  absl::StatusOr<TrialView> trial = coordinator_->EnqueueTrial(request->study(), *params);
  if (!trial.ok()) return ToGrpcStatus(trial.status());
  *response = ToProto(trial->trial, trial->objectives);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::EnqueueFromStudy(grpc::ServerContext*,
                                                const v1::EnqueueFromStudyRequest* request,
                                                v1::EnqueueFromStudyResponse* response) {
  DurableOnReturn durable(coordinator_);
  if (request->study().empty()) return MissingField("study");
  if (request->from_study().empty()) return MissingField("from_study");
  absl::StatusOr<EnqueuedFromStudy> enqueued =
      coordinator_->EnqueueFromStudy(request->study(), request->from_study(), request->top());
  if (!enqueued.ok()) return ToGrpcStatus(enqueued.status());
  AddTrials(enqueued->enqueued, response);
  for (const std::string& skipped : enqueued->skipped) response->add_skipped(skipped);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::Refit(grpc::ServerContext*, const v1::RefitRequest* request,
                                     v1::Trial* response) {
  DurableOnReturn durable(coordinator_);
  if (request->study().empty()) return MissingField("study");
  std::optional<int64_t> source;
  if (request->has_trial()) source = request->trial();
  absl::StatusOr<TrialView> trial = coordinator_->Refit(request->study(), source);
  if (!trial.ok()) return ToGrpcStatus(trial.status());
  *response = ToProto(trial->trial, trial->objectives);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::RegisterWorker(grpc::ServerContext*,
                                               const v1::RegisterWorkerRequest* request,
                                               v1::RegisterWorkerResponse* response) {
  DurableOnReturn durable(coordinator_);
  WorkerRegistration registration = coordinator_->RegisterWorker(request->name());
  response->set_worker_id(registration.worker_id);
  response->set_lease_seconds(absl::ToDoubleSeconds(registration.lease));
  response->set_heartbeat_seconds(absl::ToDoubleSeconds(registration.heartbeat));
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::AcquireTrial(grpc::ServerContext*,
                                             const v1::AcquireTrialRequest* request,
                                             v1::AcquireTrialResponse* response) {
  DurableOnReturn durable(coordinator_);
  if (request->worker_id().empty()) return MissingField("worker_id");
  absl::StatusOr<SlotOffer> slot = FromProto(*request);
  if (!slot.ok()) return ToGrpcStatus(slot.status());
  absl::StatusOr<std::optional<Assignment>> assignment =
      coordinator_->AcquireTrial(request->worker_id(), *slot);
  if (!assignment.ok()) return ToGrpcStatus(assignment.status());
  if (!assignment->has_value()) return grpc::Status::OK;
  const Assignment& a = **assignment;
  *response->mutable_lease() = ToProto(a.lease);
  *response->mutable_trial() = ToProto(a.trial, a.objectives);
  response->set_settings_json(a.settings.dump());
  for (const std::string& arg : a.command) response->add_command(arg);
  response->set_time_limit_seconds(absl::ToDoubleSeconds(a.time_limit));
  response->set_stop_grace_seconds(absl::ToDoubleSeconds(a.stop_grace));
  response->set_upload_checkpoints(a.upload_checkpoints);
  response->set_tensorboard_dir(a.tensorboard_dir);
  response->set_max_artifact_bytes(a.max_artifact_bytes);
  if (a.resume_step) response->set_resume_step(*a.resume_step);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::ReportProgress(grpc::ServerContext*,
                                               const v1::ReportProgressRequest* request,
                                               v1::ReportProgressResponse* response) {
  DurableOnReturn durable(coordinator_);
  if (!request->has_lease()) return MissingField("lease");
  ExploitAnswer exploit;
  absl::StatusOr<TrialAction> action =
      coordinator_->ReportProgress(request->worker_id(), FromProto(request->lease()),
                                   FromProto(request->measurement()), &exploit);
  if (!action.ok()) return ToGrpcStatus(action.status());
  response->set_action(*action == TrialAction::kStop ? v1::TRIAL_ACTION_STOP
                                                     : v1::TRIAL_ACTION_CONTINUE);
  if (*action == TrialAction::kExploit) {
    response->set_action(v1::TRIAL_ACTION_EXPLOIT);
    response->mutable_exploit()->set_donor_trial(exploit.donor);
    response->mutable_exploit()->set_donor_step(exploit.donor_step);
    ToProto(exploit.params, response->mutable_exploit()->mutable_params());
  }
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::CompleteTrial(grpc::ServerContext*,
                                              const v1::CompleteTrialRequest* request,
                                              v1::CompleteTrialResponse*) {
  DurableOnReturn durable(coordinator_);
  if (!request->has_lease()) return MissingField("lease");
  absl::StatusOr<TrialState> state = FromProto(request->state());
  if (!state.ok()) return ToGrpcStatus(state.status());
  MetricMap metrics(request->final_metrics().begin(), request->final_metrics().end());
  return ToGrpcStatus(coordinator_->CompleteTrial(request->worker_id(), FromProto(request->lease()),
                                                  *state, metrics, request->failure_reason()));
}

grpc::Status WorkerServiceImpl::Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest* request,
                                          v1::HeartbeatResponse* response) {
  DurableOnReturn durable(coordinator_);
  std::vector<LeaseKey> leases;
  for (const v1::TrialLease& lease : request->leases()) leases.push_back(FromProto(lease));
  for (const LeaseKey& lost : coordinator_->Heartbeat(request->worker_id(), leases)) {
    *response->add_lost() = ToProto(lost);
  }
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::ReleaseTrial(grpc::ServerContext*,
                                             const v1::ReleaseTrialRequest* request,
                                             v1::ReleaseTrialResponse*) {
  DurableOnReturn durable(coordinator_);
  if (!request->has_lease()) return MissingField("lease");
  return ToGrpcStatus(
      coordinator_->ReleaseTrial(request->worker_id(), FromProto(request->lease())));
}

grpc::Status StudyServiceImpl::Ask(grpc::ServerContext*, const v1::AskRequest* request,
                                   v1::AskResponse* response) {
  DurableOnReturn durable(coordinator_);
  if (request->study().empty()) return MissingField("study");
  absl::StatusOr<TrialView> asked = coordinator_->Ask(request->study());
  if (!asked.ok()) return ToGrpcStatus(asked.status());
  *response->mutable_trial() = ToProto(asked->trial, asked->objectives);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::Tell(grpc::ServerContext*, const v1::TellRequest* request,
                                    v1::TellResponse* response) {
  DurableOnReturn durable(coordinator_);
  if (request->study().empty()) return MissingField("study");
  absl::StatusOr<TrialState> state = FromProto(request->state());
  if (!state.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("state: Tell takes COMPLETE, PRUNED or FAILED, got ",
                                     static_cast<int>(request->state()), " (",
                                     v1::TrialState_Name(request->state()), ")"));
  }
  std::optional<double> value;
  if (request->has_value()) value = request->value();
  MetricMap metrics(request->metrics().begin(), request->metrics().end());
  absl::StatusOr<TrialView> told = coordinator_->Tell(
      request->study(), request->trial_number(), *state, value, metrics, request->failure_reason());
  if (!told.ok()) return ToGrpcStatus(told.status());
  *response->mutable_trial() = ToProto(told->trial, told->objectives);
  return grpc::Status::OK;
}

grpc::Status StudyServiceImpl::Report(grpc::ServerContext*, const v1::ReportRequest* request,
                                      v1::ReportResponse* response) {
  DurableOnReturn durable(coordinator_);
  if (request->study().empty()) return MissingField("study");
  std::optional<double> value;
  if (request->has_value()) value = request->value();
  Measurement measurement;
  measurement.step = request->step();
  measurement.metrics = MetricMap(request->metrics().begin(), request->metrics().end());
  absl::StatusOr<AskedReport> reported = coordinator_->Report(
      request->study(), request->trial_number(), value, std::move(measurement));
  if (!reported.ok()) return ToGrpcStatus(reported.status());
  response->set_should_prune(reported->should_prune);
  *response->mutable_trial() = ToProto(reported->view.trial, reported->view.objectives);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::UploadCheckpoint(
    grpc::ServerContext*, grpc::ServerReader<v1::UploadCheckpointRequest>* reader,
    v1::UploadCheckpointResponse* response) {
  v1::UploadCheckpointRequest first;
  if (!reader->Read(&first)) return MissingField("lease");
  if (!first.has_lease()) return MissingField("lease");
  const LeaseKey lease = FromProto(first.lease());
  absl::StatusOr<std::unique_ptr<Study::CheckpointUpload>> upload =
      coordinator_->StartCheckpointUpload(first.worker_id(), lease, first.step());
  if (!upload.ok()) return ToGrpcStatus(upload.status());
  v1::UploadCheckpointRequest message = first;
  do {
    const bool same = (message.worker_id().empty() || message.worker_id() == first.worker_id()) &&
                      (!message.has_lease() || FromProto(message.lease()) == lease) &&
                      (message.step() == 0 || message.step() == first.step());
    if (!same) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          "worker_id, lease and step must be those of the stream's first message"));
    }
    if (message.chunk().file().empty() && message.chunk().data().empty()) continue;  // A header.
    absl::Status appended = (*upload)->Append(message.chunk().file(), message.chunk().data());
    if (!appended.ok()) return ToGrpcStatus(appended);
  } while (reader->Read(&message));
  absl::Status committed = (*upload)->Commit();
  if (!committed.ok()) return ToGrpcStatus(committed);
  response->set_bytes((*upload)->bytes());
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::DownloadCheckpoint(
    grpc::ServerContext* context, const v1::DownloadCheckpointRequest* request,
    grpc::ServerWriter<v1::CheckpointChunk>* writer) {
  if (!request->has_lease()) return MissingField("lease");
  const absl::Status sent = coordinator_->DownloadCheckpoint(
      request->worker_id(), FromProto(request->lease()), request->donor_trial(),
      request->donor_step(), [context, writer](absl::string_view file, absl::string_view data) {
        v1::CheckpointChunk chunk;
        chunk.set_file(std::string(file));
        chunk.set_data(std::string(data));
        return !context->IsCancelled() && writer->Write(chunk);
      });
  if (absl::IsCancelled(sent))
    return grpc::Status(grpc::StatusCode::CANCELLED, "the worker went away");
  return ToGrpcStatus(sent);
}

grpc::Status StudyServiceImpl::GetTrialLog(grpc::ServerContext* context,
                                           const v1::GetTrialLogRequest* request,
                                           grpc::ServerWriter<v1::TrialLogChunk>* writer) {
  if (request->study().empty()) return MissingField("study");
  int32_t attempt = 0;  // Set before the first slice is sent.
  TrialLogReader reader;
  reader.send = [context, writer, &attempt](const LogSlice& slice) {
    v1::TrialLogChunk chunk;
    chunk.set_attempt(attempt);
    chunk.set_offset(slice.offset);
    chunk.set_data(slice.data);
    chunk.set_cut_bytes(slice.first_kept);
    return !context->IsCancelled() && writer->Write(chunk);
  };
  reader.cancelled = [context] { return context->IsCancelled(); };
  const absl::Status sent =
      coordinator_->StreamTrialLog(request->study(), request->trial(), request->attempt(),
                                   request->offset(), request->follow(), reader, &attempt);
  if (absl::IsCancelled(sent)) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "the reader went away");
  }
  return ToGrpcStatus(sent);
}

grpc::Status StudyServiceImpl::WatchStudy(grpc::ServerContext* context,
                                          const v1::WatchStudyRequest* request,
                                          grpc::ServerWriter<v1::StudyEvent>* writer) {
  if (request->study().empty()) return MissingField("study");
  const std::string& incarnation = coordinator_->incarnation();
  StudyEventReader reader;
  reader.send = [context, writer, &incarnation](const StudyEvent& event) {
    v1::StudyEvent message = ToProto(event);
    message.set_incarnation(incarnation);
    return !context->IsCancelled() && writer->Write(message);
  };
  reader.cancelled = [context] { return context->IsCancelled(); };
  const absl::Status watched = coordinator_->WatchStudy(
      request->study(), WatchStart{request->after_sequence(), request->incarnation()}, reader);
  if (absl::IsCancelled(watched)) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "the watcher went away");
  }
  return ToGrpcStatus(watched);
}

grpc::Status StudyServiceImpl::GetStudySummary(grpc::ServerContext*,
                                               const v1::GetStudySummaryRequest* request,
                                               v1::StudySummary* response) {
  DurableOnReturn durable(coordinator_);
  if (request->study().empty()) return MissingField("study");
  absl::StatusOr<StudySummary> summary = coordinator_->Summary(request->study());
  if (!summary.ok()) return ToGrpcStatus(summary.status());
  *response = ToProto(request->study(), *summary);
  return grpc::Status::OK;
}

grpc::Status WorkerServiceImpl::AppendTrialLog(grpc::ServerContext*,
                                               const v1::AppendTrialLogRequest* request,
                                               v1::AppendTrialLogResponse* response) {
  if (!request->has_lease()) return MissingField("lease");
  absl::StatusOr<int64_t> end = coordinator_->AppendTrialLog(
      request->worker_id(), FromProto(request->lease()), request->offset(), request->data());
  if (!end.ok()) return ToGrpcStatus(end.status());
  response->set_next_offset(*end);
  return grpc::Status::OK;
}

}  // namespace vernier
