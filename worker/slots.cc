#include "worker/slots.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/placement_label.h"
#include "common/trial_protocol.h"

extern char** environ;

namespace vernier::worker {
namespace {

constexpr char kProcGpuDir[] = "/proc/driver/nvidia/gpus";
constexpr auto kNvidiaSmiTimeout = std::chrono::seconds(20);

// Runs `argv` (searched in PATH, no shell) and returns its stdout when it exits
// with status 0 within kNvidiaSmiTimeout; nullopt otherwise.
std::optional<std::string> CaptureStdout(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int err = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (err != 0) {
    close(fds[0]);
    return std::nullopt;
  }
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + kNvidiaSmiTimeout;
  bool timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pfd{fds[0], POLLIN, 0};
    const int ready = poll(&pfd, 1, std::max<int64_t>(0, left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      timed_out = true;
      break;
    }
    char buf[4096];
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, n);
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return out;
}

absl::Status FlagError(absl::string_view flag, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, " ", what));
}

// Parses --gpus LIST into distinct indexes, in the order given.
absl::StatusOr<std::vector<int>> ParseGpusFlag(absl::string_view list) {
  std::vector<int> gpus;
  std::set<int> seen;
  for (absl::string_view item : absl::StrSplit(list, ',')) {
    item = absl::StripAsciiWhitespace(item);
    int index = -1;
    if (!absl::SimpleAtoi(item, &index) || index < 0) {
      return FlagError("gpus", absl::StrCat("must be \"auto\" or a comma-separated list of GPU "
                                            "indexes such as 0,1; got \"",
                                            list, "\""));
    }
    if (!seen.insert(index).second) {
      return FlagError("gpus", absl::StrCat("lists GPU ", index, " twice"));
    }
    gpus.push_back(index);
  }
  return gpus;
}

std::vector<EnvVar> ThreadEnv(int threads) {
  const std::string value = absl::StrCat(threads);
  return {{kEnvNumThreads, value}, {"OMP_NUM_THREADS", value}};
}

Slot CpuSlot(int threads) {
  Slot slot{"cpu", "cpu", {{kEnvDevice, "cpu"}, {"CUDA_VISIBLE_DEVICES", ""}}};
  for (EnvVar& var : ThreadEnv(threads)) slot.env.push_back(std::move(var));
  return slot;
}

// One of `trials_per_gpu` slots on GPU `index`, which `models` may describe.
Slot GpuSlot(int index, int threads, const std::map<int, GpuModel>& models, int trials_per_gpu) {
  // PCI bus order makes CUDA's numbering match nvidia-smi's, which is where
  // the indexes come from.
  Slot slot{absl::StrCat("cuda:", index),
            "cuda",
            {{kEnvDevice, "cuda"},
             {"CUDA_VISIBLE_DEVICES", absl::StrCat(index)},
             {"CUDA_DEVICE_ORDER", "PCI_BUS_ID"}}};
  for (EnvVar& var : ThreadEnv(threads)) slot.env.push_back(std::move(var));
  slot.capacity.gpus = 1;
  if (auto model = models.find(index); model != models.end()) {
    slot.capacity.gpu_model = model->second.name;
    slot.capacity.gpu_memory_gb = model->second.memory_gb / trials_per_gpu;
  }
  return slot;
}

}  // namespace

absl::StatusOr<std::vector<int>> ParseGpuIndexList(absl::string_view text) {
  std::vector<int> gpus;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    line = absl::StripAsciiWhitespace(line);
    int index = -1;
    if (!absl::SimpleAtoi(line, &index) || index < 0) {
      return absl::InvalidArgumentError(absl::StrCat("not a GPU index: \"", line, "\""));
    }
    gpus.push_back(index);
  }
  return gpus;
}

std::vector<int> GpusFromProcDir(const std::string& dir) {
  std::vector<int> gpus;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return gpus;
  int count = 0;
  while (const dirent* entry = readdir(d)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(d);
  for (int i = 0; i < count; ++i) gpus.push_back(i);
  return gpus;
}

absl::StatusOr<std::vector<int>> DiscoverGpus() {
  std::optional<std::string> out =
      CaptureStdout({"nvidia-smi", "--query-gpu=index", "--format=csv,noheader"});
  if (out.has_value()) {
    absl::StatusOr<std::vector<int>> parsed = ParseGpuIndexList(*out);
    if (parsed.ok()) return parsed;
  }
  return GpusFromProcDir(kProcGpuDir);
}

std::map<int, GpuModel> ParseGpuModels(absl::string_view text) {
  std::map<int, GpuModel> models;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    if (fields.size() != 3) continue;
    int index = -1;
    double mib = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(fields[0]), &index) || index < 0 ||
        !absl::SimpleAtod(absl::StripAsciiWhitespace(fields[2]), &mib) || !(mib >= 0)) {
      continue;
    }
    models[index] = GpuModel{std::string(absl::StripAsciiWhitespace(fields[1])), mib / 1024.0};
  }
  return models;
}

std::map<int, GpuModel> DescribeGpus() {
  std::optional<std::string> out = CaptureStdout(
      {"nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"});
  return out ? ParseGpuModels(*out) : std::map<int, GpuModel>();
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    const std::vector<std::string>& labels) {
  std::map<std::string, std::string> parsed;
  for (const std::string& label : labels) {
    const size_t equals = label.find('=');
    const absl::string_view key = absl::string_view(label).substr(0, equals);
    const absl::string_view value =
        equals == std::string::npos ? "" : absl::string_view(label).substr(equals + 1);
    if (!IsLabelText(key) || !IsLabelText(value)) {
      return FlagError("label", absl::StrCat("\"", label, "\" is not KEY=VALUE with ",
                                             kLabelTextRule, " on each side"));
    }
    if (!parsed.emplace(key, value).second) {
      return FlagError("label", absl::StrCat("\"", key, "\" is given twice"));
    }
  }
  return parsed;
}

double MachineMemoryGb() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemTotal:") return kib / (1024.0 * 1024.0);
  }
  return 0;
}

namespace {

// Fills in what every slot of `slots` offers beyond its GPU (GpuSlot sets
// that): threads, its share of the host memory, the worker's labels.
absl::Status DescribeSlots(const SlotOptions& options, std::vector<Slot>& slots) {
  if (!(options.memory_gb >= 0)) {
    return FlagError("memory-gb", absl::StrCat("must be >= 0, got ", options.memory_gb));
  }
  absl::StatusOr<std::map<std::string, std::string>> labels = ParseLabels(options.labels);
  if (!labels.ok()) return labels.status();
  const double memory = options.memory_gb > 0 ? options.memory_gb : MachineMemoryGb();
  for (Slot& slot : slots) {
    SlotCapacity& capacity = slot.capacity;
    capacity.cpus = options.threads_per_slot;
    capacity.memory_gb = memory / static_cast<double>(slots.size());
    capacity.labels = *labels;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Slot>> BuildSlots(const SlotOptions& options,
                                             const GpuDiscoverer& discover,
                                             const GpuDescriber& describe) {
  if (options.trials_per_gpu < 1) {
    return FlagError("trials-per-gpu", absl::StrCat("must be >= 1, got ", options.trials_per_gpu));
  }
  if (options.cpu_slots < 1) {
    return FlagError("cpu-slots", absl::StrCat("must be >= 1, got ", options.cpu_slots));
  }
  if (options.threads_per_slot < 1) {
    return FlagError("threads-per-slot",
                     absl::StrCat("must be >= 1, got ", options.threads_per_slot));
  }
  std::vector<int> gpus;
  if (options.gpus == "auto") {
    absl::StatusOr<std::vector<int>> found = discover();
    if (!found.ok()) return found.status();
    gpus = *std::move(found);
  } else if (!options.gpus.empty()) {
    absl::StatusOr<std::vector<int>> listed = ParseGpusFlag(options.gpus);
    if (!listed.ok()) return listed.status();
    gpus = *std::move(listed);
  }
  std::vector<Slot> slots;
  const std::map<int, GpuModel> models = gpus.empty() ? std::map<int, GpuModel>() : describe();
  // Round-robin, so that the first trials spread over the GPUs.
  for (int k = 0; k < options.trials_per_gpu; ++k) {
    for (int gpu : gpus) {
      slots.push_back(GpuSlot(gpu, options.threads_per_slot, models, options.trials_per_gpu));
    }
  }
  if (gpus.empty()) {
    for (int i = 0; i < options.cpu_slots; ++i) slots.push_back(CpuSlot(options.threads_per_slot));
  }
  if (absl::Status described = DescribeSlots(options, slots); !described.ok()) {
    return described;
  }
  return slots;
}

}  // namespace vernier::worker
